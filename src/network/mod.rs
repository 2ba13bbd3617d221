//! The network path to a service the connector talks to (the Polyteia API,
//! the Pushgateway): the proxy from the proxy variables ([`proxy`]) and the CAs
//! that TLS trusts ([`trust`]), read like every other setting, and the HTTP
//! agent that takes that path ([`agent`]).

pub mod agent;
pub mod proxy;
pub mod settings;
pub mod trust;

pub use settings::{Network, NetworkSettings};

use proxy::ProxyChoice;
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
