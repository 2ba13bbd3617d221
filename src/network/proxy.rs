//! The proxy for the API's host, chosen from the proxy variables (the
//! environment over the `.env` file, see [`NetworkSettings`]): `HTTPS_PROXY`
//! or `HTTP_PROXY`, else `ALL_PROXY`, except for hosts that `NO_PROXY`
//! (names, IP addresses, CIDR blocks) exempts and loopback addresses. The
//! agent of [`super::agent`] uses it.

use std::net::IpAddr;

use ureq::Proxy;

use super::settings::{NetworkSettings, ALL_PROXY, HTTPS_PROXY, HTTP_PROXY, NO_PROXY, PROXY_SPELLINGS};
use crate::secret::Secret;
use crate::setting::{Problem, Setting};

/// How the API is reached.
#[derive(Debug, Clone)]
pub enum ProxyChoice {
    /// Through this proxy, named by `variable`.
    Proxy { proxy: Proxy, variable: &'static str },
    /// Directly; says why (for the log and `connector check`).
    Direct(&'static str),
}

impl ProxyChoice {
    pub fn proxy(&self) -> Option<&Proxy> {
        match self {
            ProxyChoice::Proxy { proxy, .. } => Some(proxy),
            ProxyChoice::Direct(_) => None,
        }
    }

    /// `host:port` of the proxy, never its credentials.
    pub fn proxy_address(&self) -> Option<String> {
        self.proxy().map(|p| format!("{}:{}", p.host(), p.port()))
    }

    /// The proxy in use, as messages name it.
    pub fn in_use(&self) -> Option<ProxyInUse> {
        match self {
            ProxyChoice::Proxy { proxy, variable } => {
                Some(ProxyInUse { address: format!("{}:{}", proxy.host(), proxy.port()), variable })
            }
            ProxyChoice::Direct(_) => None,
        }
    }
}

/// A proxy as messages name it: `host:port` (never the credentials) and the
/// variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInUse {
    pub address: String,
    pub variable: &'static str,
}

/// The proxy for requests to `host` from the settings; see [`choose_proxy`].
pub fn proxy_for(host: &str, https: bool, network: &NetworkSettings) -> Result<ProxyChoice, Problem> {
    choose_proxy(host, https, |name| network.proxy_var(name))
}

/// The proxy for requests to `host`, from `HTTPS_PROXY` (https) or
/// `HTTP_PROXY` (http), else `ALL_PROXY`, each also in lower case; none when
/// `NO_PROXY` matches the host or the host is a loopback address.
///
/// ureq's own `Proxy::try_from_env` reads `NO_PROXY` too, but it prefers
/// `ALL_PROXY` over the scheme's variable, does not trim list entries and
/// treats `example.com` as that exact host only (curl and most tools also
/// match its subdomains), so the choice is made here and the proxy given to
/// ureq without a NO_PROXY list: an agent only ever talks to one host.
pub fn choose_proxy(host: &str, https: bool, var: impl Fn(&str) -> Option<String>) -> Result<ProxyChoice, Problem> {
    let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    // A setting, else its lower-case spelling.
    let spellings = |setting: Setting| {
        let lower = PROXY_SPELLINGS.iter().find(|(s, _)| *s == setting).map(|(_, lower)| *lower);
        [Some(setting.name), lower].into_iter().flatten()
    };
    let scheme_proxy = if https { HTTPS_PROXY } else { HTTP_PROXY };
    let candidates: Vec<&'static str> = spellings(scheme_proxy).chain(spellings(ALL_PROXY)).collect();
    let Some((variable, value)) = candidates.iter().find_map(|name| get(name).map(|v| (*name, v))) else {
        return Ok(ProxyChoice::Direct("no proxy variable is set"));
    };
    // The URL may carry credentials: keep them out of every message.
    register_proxy_credentials(&value);
    let no_proxy = spellings(NO_PROXY).find_map(get).unwrap_or_default();
    if is_loopback(host) {
        return Ok(ProxyChoice::Direct("loopback addresses are never proxied"));
    }
    if no_proxy_matches(&no_proxy, host) {
        return Ok(ProxyChoice::Direct("NO_PROXY exempts the host"));
    }
    let proxy = Proxy::new(&value).map_err(|_| {
        Problem::new(
            variable,
            "is not a proxy URL such as http://proxy.example:3128 or http://user:password@proxy.example:3128 \
             (special characters in user or password percent-encoded; value not shown)",
        )
    })?;
    Ok(ProxyChoice::Proxy { proxy, variable })
}

/// Registers the credentials of a proxy URL for scrubbing, as written and
/// decoded (the form that goes, base64-encoded, into `Proxy-Authorization`).
fn register_proxy_credentials(url: &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else { return };
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let _ = Secret::new(url);
    let _ = Secret::new(userinfo);
    let _ = Secret::new(decode(userinfo));
    if let Some((user, password)) = userinfo.split_once(':') {
        let _ = Secret::new(password);
        let _ = Secret::new(decode(password));
        let _ = Secret::new(format!("{}:{}", decode(user), decode(password)));
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `host` is exempt from proxying by a `NO_PROXY` value: a comma- or
/// space-separated list of `*` (everything), domain names (matching the name
/// and its subdomains; a leading `.` or `*.` is ignored), IP addresses and
/// CIDR blocks (`10.0.0.0/8`). A `:port` suffix on an entry is ignored.
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    no_proxy.split([',', ' ', '\t']).map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return match (host_ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Some(ip), Ok(net), Ok(bits)) => in_cidr(ip, net, bits),
                _ => false,
            };
        }
        let entry = entry.to_ascii_lowercase();
        let entry = strip_port(&entry);
        let entry = entry.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
        if entry.is_empty() {
            return false;
        }
        if let (Some(ip), Ok(e)) = (host_ip, entry.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()) {
            return ip == e;
        }
        host == entry || host.strip_suffix(entry).is_some_and(|prefix| prefix.ends_with('.'))
    })
}

fn strip_port(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        // [::1]:8080
        return rest.split(']').next().unwrap_or(rest);
    }
    match entry.rsplit_once(':') {
        // Only one colon: host:port. More colons: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => entry,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matching() {
        let list = "localhost, .internal.example,*.corp.example ,polyteia.com:443,10.0.0.0/8,::1,[fd00::1]:8080";
        for host in [
            "localhost",
            "a.internal.example",
            "internal.example",
            "x.y.corp.example",
            "polyteia.com",
            "app.polyteia.com",
            "APP.Polyteia.COM",
            "10.1.2.3",
            "::1",
            "[fd00::1]",
        ] {
            assert!(no_proxy_matches(list, host), "{host}");
        }
        for host in ["notpolyteia.com", "polyteia.com.evil.example", "11.0.0.1", "example.org", "fd00::2"] {
            assert!(!no_proxy_matches(list, host), "{host}");
        }
        assert!(no_proxy_matches("*", "anything.example"));
        assert!(!no_proxy_matches("", "anything.example"));
    }

    #[test]
    fn proxy_choice_from_env() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let address = |choice: ProxyChoice| choice.proxy_address();
        let p = choose_proxy("app.polyteia.com", true, vars(&[("HTTPS_PROXY", "http://proxy.corp:3128")])).unwrap();
        assert_eq!(address(p), Some("proxy.corp:3128".to_string()));
        let p = choose_proxy(
            "app.polyteia.com",
            true,
            vars(&[("https_proxy", "http://lower:8080"), ("ALL_PROXY", "http://all:1")]),
        )
        .unwrap();
        assert!(matches!(&p, ProxyChoice::Proxy { variable: "https_proxy", .. }), "{p:?}");
        assert_eq!(address(p), Some("lower:8080".to_string()));
        let p = choose_proxy("app.polyteia.com", true, vars(&[("ALL_PROXY", "http://all:1")])).unwrap();
        assert_eq!(address(p), Some("all:1".to_string()));
        let p = choose_proxy("app.polyteia.com", true, vars(&[("HTTP_PROXY", "http://plain:1")])).unwrap();
        assert!(p.proxy().is_none(), "HTTP_PROXY is not used for https");
        let p = choose_proxy(
            "app.polyteia.com",
            true,
            vars(&[("HTTPS_PROXY", "http://proxy:3128"), ("NO_PROXY", "polyteia.com")]),
        )
        .unwrap();
        assert!(matches!(p, ProxyChoice::Direct("NO_PROXY exempts the host")), "{p:?}");
        let p = choose_proxy("127.0.0.1", false, vars(&[("HTTP_PROXY", "http://proxy:3128")])).unwrap();
        assert!(p.proxy().is_none(), "loopback is never proxied");
        let err = choose_proxy("app.polyteia.com", true, vars(&[("HTTPS_PROXY", "http://us:pw-secret-1@ bad url")]))
            .unwrap_err();
        assert_eq!(err.variable, "HTTPS_PROXY");
        assert!(!err.message.contains("pw-secret-1"), "{}", err.message);
    }

    #[test]
    fn percent_encoded_credentials_are_decoded_once() {
        let url = "http://conn-user:p%40ss%3Aw%2Frd%20%25x%2B%C3%BC@proxy.corp:3128";
        let p =
            choose_proxy("app.polyteia.com", true, |name| (name == "HTTPS_PROXY").then(|| url.to_string())).unwrap();
        let proxy = p.proxy().unwrap();
        assert_eq!(proxy.username(), Some("conn-user"));
        assert_eq!(proxy.password(), Some("p@ss:w/rd %x+ü"));
        assert_eq!(crate::secret::scrub(&format!("proxy {url}")), "proxy [redacted]");
    }
}
