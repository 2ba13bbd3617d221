//! The HTTP agent of the network path, for every service the connector talks to
//! (the Polyteia API, the Pushgateway): TLS with the trust store of [`super::trust`],
//! the proxy of [`super::proxy`], timeouts, no redirects, over the
//! [`NetworkPath`] chosen with the settings.

use std::time::Duration;

use ureq::tls::TlsConfig;
use ureq::Agent;

use super::proxy::ProxyChoice;
use super::NetworkPath;
use crate::error::{Error, Result};

/// Sent with every request.
pub const USER_AGENT: &str = concat!("polyteia-db-connector/", env!("CARGO_PKG_VERSION"));

/// Connecting (DNS, TCP, TLS, proxy) never gets more than this, even with a
/// long `HTTP_TIMEOUT`.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The ureq agent for `host` over `path`: TLS via rustls with the trust store
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
        ProxyChoice::Proxy { .. } => {
            log::info!("using the proxy {} for {host}", path.proxy.proxy_address().unwrap_or_default())
        }
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

/// The agent for another service at `url` (the Pushgateway), over the
/// [`NetworkPath`] chosen for it with the settings.
pub fn agent_for_url(url: &str, path: &NetworkPath, timeout: Duration) -> Result<Agent> {
    let uri: ureq::http::Uri =
        url.parse().map_err(|_| Error::config(format!("'{url}' is not a URL such as http://host:9091")))?;
    Ok(build_agent(uri.host().unwrap_or_default(), path, timeout))
}
