//! The network settings: the proxy variables (the standard ones; lower case
//! works too) and the CAs trusted for TLS, as given (the environment over the
//! `.env` file). What they choose is worked out beside them: the proxy in
//! `proxy.rs`, the trust store in `trust.rs`, both joined in `mod.rs`.

use std::path::PathBuf;

use crate::setting::{
    define_settings, Setting,
    WhenUnset::{Described, Unset},
};

define_settings! {
    /// The network settings.
    SETTINGS;
    HTTPS_PROXY: Unset, "proxy for https:// base URLs";
    HTTP_PROXY: Unset, "proxy for http:// base URLs";
    ALL_PROXY: Unset, "proxy for either, when the specific one is unset";
    NO_PROXY: Unset, "hosts reached without the proxy";
    SSL_CERT_FILE: Described("the OS trust store"), "PEM file of the CAs trusted for the API";
    SSL_CERT_DIR: Described("the OS trust store"), "directory of PEM files of the CAs trusted for the API";
}

/// The proxy settings and their lower-case spellings, which curl and most
/// tools accept too (the upper case one wins).
pub const PROXY_SPELLINGS: [(Setting, &str); 4] =
    [(HTTPS_PROXY, "https_proxy"), (HTTP_PROXY, "http_proxy"), (ALL_PROXY, "all_proxy"), (NO_PROXY, "no_proxy")];

/// Every proxy variable, in both cases.
pub fn proxy_variables() -> impl Iterator<Item = &'static str> {
    PROXY_SPELLINGS.iter().flat_map(|(setting, lower)| [setting.name, *lower])
}

/// The variables that choose the network path to a service: the proxy
/// variables and `SSL_CERT_FILE` / `SSL_CERT_DIR`, as given.
#[derive(Clone, Default)]
pub struct NetworkSettings {
    /// The proxy variables that are set, by name; values may hold credentials.
    proxy_vars: Vec<(&'static str, String)>,
    /// `SSL_CERT_FILE`: a PEM bundle trusted instead of the system store.
    pub ssl_cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`: directories (`:`-separated) of PEM files, likewise.
    pub ssl_cert_dirs: Vec<PathBuf>,
}

impl NetworkSettings {
    /// Reads the proxy and trust-store variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> NetworkSettings {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        NetworkSettings {
            proxy_vars: proxy_variables().filter_map(|name| set(name).map(|v| (name, v))).collect(),
            ssl_cert_file: set(SSL_CERT_FILE.name).map(|v| PathBuf::from(v.trim())),
            ssl_cert_dirs: set(SSL_CERT_DIR.name)
                .map(|v| std::env::split_paths(v.trim()).filter(|p| !p.as_os_str().is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    /// The value of one of the proxy variables, if set.
    pub fn proxy_var(&self, name: &str) -> Option<String> {
        self.proxy_vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }
}

/// Names the proxy variables that are set, never their values (credentials).
impl std::fmt::Debug for NetworkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkSettings")
            .field("proxy_vars_set", &self.proxy_vars.iter().map(|(k, _)| *k).collect::<Vec<_>>())
            .field("ssl_cert_file", &self.ssl_cert_file)
            .field("ssl_cert_dirs", &self.ssl_cert_dirs)
            .finish()
    }
}
