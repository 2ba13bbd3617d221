//! The certificates TLS to the API trusts: the operating system's store
//! (rustls-platform-verifier), or the PEM files named by `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` instead, as OpenSSL-based tools read them. The variables
//! are read like every other setting (environment over `.env` file) and
//! checked with the configuration, so a missing or empty CA file is a
//! configuration error before anything runs, not a TLS failure later.

use std::path::Path;
use std::sync::Arc;

use ureq::tls::{Certificate, RootCerts};

use super::settings::{NetworkSettings, SSL_CERT_DIR, SSL_CERT_FILE};
use crate::setting::{Problem, Setting};

/// Where TLS looks for trusted CA certificates.
#[derive(Debug, Clone)]
pub enum TrustStore {
    /// The operating system's certificate store.
    System,
    /// Only the certificates of `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    Files { certs: Arc<Vec<Certificate<'static>>>, source: String },
}

impl TrustStore {
    /// The trust store the settings ask for; reads and checks the files.
    pub fn load(network: &NetworkSettings) -> Result<TrustStore, Problem> {
        if network.ssl_cert_file.is_none() && network.ssl_cert_dirs.is_empty() {
            return Ok(TrustStore::System);
        }
        let mut certs = Vec::new();
        let mut sources = Vec::new();
        if let Some(file) = &network.ssl_cert_file {
            let found = read_certificates(&SSL_CERT_FILE, file, false)?;
            sources.push(format!("{}={}", SSL_CERT_FILE.name, file.display()));
            certs.extend(found);
        }
        for dir in &network.ssl_cert_dirs {
            let found = read_certificates(&SSL_CERT_DIR, dir, true)?;
            sources.push(format!("{}={}", SSL_CERT_DIR.name, dir.display()));
            certs.extend(found);
        }
        let count = certs.len();
        let noun = if count == 1 { "certificate" } else { "certificates" };
        Ok(TrustStore::Files {
            certs: Arc::new(certs),
            source: format!("the {count} CA {noun} of {}", sources.join(" and ")),
        })
    }

    pub fn root_certs(&self) -> RootCerts {
        match self {
            TrustStore::System => RootCerts::PlatformVerifier,
            TrustStore::Files { certs, .. } => RootCerts::Specific(certs.clone()),
        }
    }

    /// e.g. "the 1 CA certificate of SSL_CERT_FILE=/etc/ssl/corp-ca.pem".
    pub fn describe(&self) -> String {
        match self {
            TrustStore::System => "the operating system's certificate store".into(),
            TrustStore::Files { source, .. } => source.clone(),
        }
    }
}

/// The certificates in a PEM file or a directory of them; a path that is
/// missing, of the wrong type, unreadable or without a certificate is a problem.
fn read_certificates(setting: &Setting, path: &Path, dir: bool) -> Result<Vec<Certificate<'static>>, Problem> {
    let problem = |message: String| Problem::new(setting.name, message);
    let kind = if dir { "a directory" } else { "a file" };
    match std::fs::metadata(path) {
        Err(e) => return Err(problem(format!("cannot read {}: {e}", path.display()))),
        Ok(meta) if meta.is_dir() != dir => return Err(problem(format!("{} is not {kind}", path.display()))),
        Ok(_) => {}
    }
    let result = if dir {
        rustls_native_certs::load_certs_from_paths(None, Some(path))
    } else {
        rustls_native_certs::load_certs_from_paths(Some(path), None)
    };
    if let Some(err) = result.errors.first() {
        return Err(problem(format!("cannot read the certificates: {err}")));
    }
    if result.certs.is_empty() {
        return Err(problem(format!(
            "{} holds no PEM certificate (a block starting with -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(result.certs.iter().map(|der| Certificate::from_der(der.as_ref()).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(file: Option<&Path>, dirs: &[&Path]) -> NetworkSettings {
        let dirs = std::env::join_paths(dirs).unwrap().into_string().unwrap();
        NetworkSettings::from_vars(|name| match name {
            "SSL_CERT_FILE" => file.map(|f| f.display().to_string()),
            "SSL_CERT_DIR" => Some(dirs.clone()),
            _ => None,
        })
    }

    // A self-signed CA certificate, only read here, never used to verify.
    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUayLQgiNm4Ygu/OqjhHbeqeXoELAwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYdHJ1c3Qtc3RvcmUgdW5pdCB0ZXN0IENBMB4XDTI2MTEyNjIz
MTcyOVoXDTM2MTEyMzIzMTcyOVowIzEhMB8GA1UEAwwYdHJ1c3Qtc3RvcmUgdW5p
dCB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEr/BNVHMae453dlrw
OuUwxxexnp2rk0iPude+Nd8CnuApVCKE+iqjI0m5Z++8WQzPzydW8W99ipzIlU35
n5ItmaNTMFEwHQYDVR0OBBYEFM4Db+pfy1ZAQ3gFnLLCM0guYiY9MB8GA1UdIwQY
MBaAFM4Db+pfy1ZAQ3gFnLLCM0guYiY9MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDSAAwRQIhAMTwXk2XrXrpA1f8h32bK48whxgNdKk0XfTH2ZXPA89xAiBT
lGP+r9tghWTzxPE460nFVPbitcp9doDOZnXAcbMfLg==
-----END CERTIFICATE-----
";

    #[test]
    fn system_store_unless_a_variable_is_set() {
        assert!(matches!(TrustStore::load(&NetworkSettings::default()).unwrap(), TrustStore::System));
    }

    #[test]
    fn a_file_and_a_directory_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, CA_PEM).unwrap();
        let store = TrustStore::load(&settings(Some(&file), &[])).unwrap();
        assert_eq!(store.describe(), format!("the 1 CA certificate of SSL_CERT_FILE={}", file.display()));
        let store = TrustStore::load(&settings(None, &[dir.path()])).unwrap();
        assert_eq!(store.describe(), format!("the 1 CA certificate of SSL_CERT_DIR={}", dir.path().display()));
    }

    #[test]
    fn missing_wrong_and_empty_paths_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = TrustStore::load(&settings(Some(&missing), &[])).unwrap_err();
        assert_eq!(err.variable, "SSL_CERT_FILE");
        assert!(err.message.starts_with(&format!("cannot read {}", missing.display())), "{}", err.message);

        let err = TrustStore::load(&settings(Some(dir.path()), &[])).unwrap_err();
        assert!(err.message.ends_with("is not a file"), "{}", err.message);

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = TrustStore::load(&settings(Some(&empty), &[])).unwrap_err();
        assert!(err.message.contains("holds no PEM certificate"), "{}", err.message);

        let err = TrustStore::load(&settings(None, &[&empty])).unwrap_err();
        assert_eq!(err.variable, "SSL_CERT_DIR");
        assert!(err.message.ends_with("is not a directory"), "{}", err.message);
    }
}
