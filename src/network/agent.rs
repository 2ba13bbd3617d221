//! The HTTP agent of the network path, for every service the connector talks to
//! (the Polyteia API, the Pushgateway): TLS with the trust store of [`super::trust`],
//! the proxy of [`super::proxy`], timeouts, no redirects; and the [`NetworkPath`] it
//! takes, as `connector check` describes it.

use std::time::Duration;

use ureq::tls::TlsConfig;
use ureq::Agent;

use super::proxy::{proxy_for, ProxyChoice};
use super::trust::TrustStore;
use super::NetworkSettings;
use crate::error::{Error, Result};

/// Sent with every request.
pub const USER_AGENT: &str = concat!("polyteia-db-connector/", env!("CARGO_PKG_VERSION"));

/// Connecting (DNS, TCP, TLS, proxy) never gets more than this, even with a
/// long `HTTP_TIMEOUT`.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How requests reach a service: directly or through a proxy, and which
/// certificates TLS trusts. Chosen once from the settings.
#[derive(Debug, Clone)]
pub struct NetworkPath {
    pub proxy: ProxyChoice,
    pub trust: TrustStore,
    /// Whether the service's URL is https (else no TLS).
    pub https: bool,
}

impl NetworkPath {
    /// The path to `host` with the proxy and CA settings `network`.
    pub fn to(host: &str, https: bool, network: &NetworkSettings) -> Result<NetworkPath> {
        let proxy = proxy_for(host, https, network).map_err(|p| p.into_error())?;
        let trust = TrustStore::load(network).map_err(|p| p.into_error())?;
        Ok(NetworkPath { proxy, trust, https })
    }

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

/// The ureq agent for `host` over `path`: TLS via rustls with the [`TrustStore`]
/// (the OS certificate store unless `SSL_CERT_FILE` / `SSL_CERT_DIR` name
/// others), the proxy from the proxy variables (honouring `NO_PROXY`),
/// `User-Agent: polyteia-db-connector/…`, `timeout` on every phase but
/// sending a request body, and no redirects.
///
/// Sending a body has no total limit (a large upload may take longer than one
/// timeout); instead every single socket write must finish within
/// `timeout`, so a stalled upload still fails.
pub fn build_agent(host: &str, path: &NetworkPath, timeout: Duration) -> Agent {
    match &path.proxy {
        ProxyChoice::Proxy { .. } => log::info!("using the proxy {} for {host}", path.proxy.proxy_address().unwrap_or_default()),
        ProxyChoice::Direct(why) => log::debug!("not using a proxy for {host}: {why}"),
    }
    let limit = Some(timeout);
    let tls = TlsConfig::builder().root_certs(path.trust.root_certs()).build();
    let config = Agent::config_builder()
        .tls_config(tls)
        .proxy(path.proxy.proxy().cloned())
        .user_agent(USER_AGENT)
        .http_status_as_error(false)
        // Never follow a redirect: the credentials must not go to another host.
        .max_redirects(0)
        .timeout_resolve(limit)
        .timeout_connect(Some(timeout.min(MAX_CONNECT_TIMEOUT)))
        .timeout_send_request(limit)
        .timeout_send_body(None)
        .timeout_per_write(limit)
        .timeout_recv_response(limit)
        .timeout_recv_body(limit)
        .build();
    Agent::new_with_config(config)
}

/// The agent for the service at `url` (the Pushgateway): its [`NetworkPath`] from
/// `network`, then [`build_agent`].
pub fn agent_for_url(url: &str, network: &NetworkSettings, timeout: Duration) -> Result<Agent> {
    let uri: ureq::http::Uri =
        url.parse().map_err(|_| Error::config(format!("'{url}' is not a URL such as http://host:9091")))?;
    let host = uri.host().unwrap_or_default();
    let path = NetworkPath::to(host, uri.scheme_str() == Some("https"), network)?;
    Ok(build_agent(host, &path, timeout))
}
