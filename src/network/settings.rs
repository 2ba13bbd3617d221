//! The network settings: the proxy variables (the standard ones; lower case
//! works too) and the CAs trusted for TLS. Read once, like every other
//! setting (the environment over the `.env` file); the trust store files are
//! read here, once, and the result handed to every agent.

use std::path::PathBuf;

use super::proxy::proxy_for;
use super::trust::TrustStore;
use super::NetworkPath;
use crate::env::Env;
use crate::setting::{
    define_settings, Problem, Setting,
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

/// The network settings, parsed once: the variables and the trust store
/// loaded from them (or why it cannot be; a problem only for the commands
/// that talk to a service).
#[derive(Debug, Clone)]
pub struct Network {
    pub settings: NetworkSettings,
    pub trust: Result<TrustStore, Problem>,
}

impl Network {
    pub fn parse(env: &Env) -> Network {
        Network::from_settings(NetworkSettings::from_vars(|name| env.get(name).map(str::to_string)))
    }

    /// Loads the trust store of `settings` (reads the CA files).
    pub fn from_settings(settings: NetworkSettings) -> Network {
        let trust = TrustStore::load(&settings);
        Network { settings, trust }
    }

    /// The path to `host`: its proxy (chosen now) and the trust store; or
    /// every problem of the two.
    pub fn path_to(&self, host: &str, https: bool) -> Result<NetworkPath, Vec<Problem>> {
        match (proxy_for(host, https, &self.settings), self.trust.clone()) {
            (Ok(proxy), Ok(trust)) => Ok(NetworkPath { proxy, trust, https }),
            (proxy, trust) => Err(proxy.err().into_iter().chain(trust.err()).collect()),
        }
    }
}
