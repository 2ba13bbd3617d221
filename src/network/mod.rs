//! The network path to a service the connector talks to (the Polyteia API,
//! the Pushgateway): the proxy from the proxy variables ([`proxy`]) and the CAs
//! that TLS trusts ([`trust`]), read like every other setting ([`settings`]),
//! and the HTTP agent that takes that path ([`agent`]). The imports go one
//! way: `settings` (the variables) ← `proxy`, `trust` ← this file ← `agent`.
//! The trust store files are read here, once, and the result handed to every agent.

pub mod agent;
pub mod proxy;
pub mod settings;
pub mod trust;

pub use settings::NetworkSettings;

use crate::env::Env;
use crate::setting::Problem;
use proxy::{proxy_for, ProxyChoice};
use trust::TrustStore;

/// How requests reach a service: directly or through a proxy, and which
/// certificates TLS trusts. Chosen once, with the configuration.
#[derive(Debug, Clone)]
pub struct NetworkPath {
    pub proxy: ProxyChoice,
    pub trust: TrustStore,
    /// Whether the service's URL is https (else no TLS).
    pub https: bool,
}

impl NetworkPath {
    /// e.g. "through the proxy proxy.corp:3128 (HTTPS_PROXY); TLS verified
    /// with the operating system's certificate store". Never credentials.
    pub fn describe(&self) -> String {
        let route = match &self.proxy {
            ProxyChoice::Proxy { variable, .. } => {
                format!("through the proxy {} ({variable})", self.proxy.proxy_address().unwrap_or_default())
            }
            ProxyChoice::Direct(why) => format!("directly ({why})"),
        };
        let tls = if self.https {
            format!("TLS verified with {}", self.trust.describe())
        } else {
            "plain HTTP, no TLS (use https:// outside tests)".into()
        };
        format!("{route}; {tls}")
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
