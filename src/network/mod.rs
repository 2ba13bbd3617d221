//! The network path to a service the connector talks to (the Polyteia API,
//! the Pushgateway): the proxy from the proxy variables ([`proxy`]) and the CAs
//! that TLS trusts ([`trust`]), read like every other setting, and the HTTP
//! agent that takes that path ([`agent`]).

use std::path::PathBuf;

use crate::error::Error;

pub mod agent;
pub mod proxy;
pub mod trust;

/// A network setting that cannot be used: the variable and what is wrong
/// (validated with the rest of the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingProblem {
    pub variable: &'static str,
    pub message: String,
}

impl SettingProblem {
    pub fn into_error(self) -> Error {
        Error::config(format!("{}: {}", self.variable, self.message))
    }
}

/// The variables that choose the network path to the API: the proxy
/// variables and `SSL_CERT_FILE` / `SSL_CERT_DIR`, read like every other
/// setting (the environment over the `.env` file), so that a proxy named
/// only in `--env-file` is used too.
#[derive(Clone, Default)]
pub struct NetworkSettings {
    /// The proxy variables that are set, by name; values may hold credentials.
    proxy_vars: Vec<(String, String)>,
    /// `SSL_CERT_FILE`: a PEM bundle trusted instead of the system store.
    pub ssl_cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`: directories (`:`-separated) of PEM files, likewise.
    pub ssl_cert_dirs: Vec<PathBuf>,
}

/// The proxy variables, in both cases (as curl and most tools accept them).
pub const PROXY_VARIABLES: [&str; 8] =
    ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"];

impl NetworkSettings {
    /// Reads the proxy and trust-store variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> NetworkSettings {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        NetworkSettings {
            proxy_vars: PROXY_VARIABLES.iter().filter_map(|name| set(name).map(|v| (name.to_string(), v))).collect(),
            ssl_cert_file: set("SSL_CERT_FILE").map(|v| PathBuf::from(v.trim())),
            ssl_cert_dirs: set("SSL_CERT_DIR")
                .map(|v| std::env::split_paths(v.trim()).filter(|p| !p.as_os_str().is_empty()).collect())
                .unwrap_or_default(),
        }
    }

    /// The value of one of [`PROXY_VARIABLES`], if set.
    pub fn proxy_var(&self, name: &str) -> Option<String> {
        self.proxy_vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// Names the proxy variables that are set, never their values (credentials).
impl std::fmt::Debug for NetworkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkSettings")
            .field("proxy_vars_set", &self.proxy_vars.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("ssl_cert_file", &self.ssl_cert_file)
            .field("ssl_cert_dirs", &self.ssl_cert_dirs)
            .finish()
    }
}
