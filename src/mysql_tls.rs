//! The host-name check that `SOURCE_DATABASE_SSL_MODE=verify_identity` asks
//! for on MySQL/MariaDB. DuckDB's mysql extension (1.5.5) verifies the server
//! certificate's chain but not that it names the host, so before ATTACH we do
//! the TLS handshake ourselves — MySQL's protocol starts in plain text and
//! switches to TLS after an SSL request — and let rustls check both.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::error::{Error, ErrorKind, Result};

const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const UTF8MB4_GENERAL_CI: u8 = 45;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to `host:port`, upgrades to TLS and checks that the server's
/// certificate chains to `ca_file` and is issued for `host`. Nothing is sent
/// after the handshake: no login, no query.
pub(crate) fn verify_server_identity(host: &str, port: u16, ca_file: &Path) -> Result<()> {
    let tls_error = |detail: String| {
        Error::new(
            ErrorKind::SourceUnreachable,
            format!(
                "TLS check of the MySQL server {host}:{port} failed: {detail}; check SOURCE_DATABASE_SSL_MODE and \
                 SOURCE_DATABASE_SSL_ROOT_CERT, and that SOURCE_DATABASE_HOST is a name in the server's certificate"
            ),
        )
    };
    let config = client_config(ca_file).map_err(tls_error)?;
    let server_name =
        ServerName::try_from(host.to_string()).map_err(|_| tls_error(format!("'{host}' is not a valid host name")))?;

    let mut tcp = connect(host, port).map_err(|e| {
        Error::new(ErrorKind::SourceUnreachable, format!("cannot connect to the mysql server {host}:{port}: {e}"))
    })?;
    request_tls(&mut tcp).map_err(tls_error)?;

    let mut tls = rustls::ClientConnection::new(Arc::new(config), server_name).map_err(|e| tls_error(e.to_string()))?;
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp).map_err(|e| tls_error(e.to_string()))?;
    }
    tls.send_close_notify();
    let _ = tls.complete_io(&mut tcp);
    Ok(())
}

fn client_config(ca_file: &Path) -> std::result::Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{} holds no usable CA certificate", ca_file.display()));
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| e.to_string())
}

fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(TIMEOUT))?;
                stream.set_write_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Reads the server's greeting and answers with an SSL request packet.
fn request_tls(tcp: &mut TcpStream) -> std::result::Result<(), String> {
    let mut header = [0u8; 4];
    tcp.read_exact(&mut header).map_err(|e| format!("no greeting from the server: {e}"))?;
    let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut greeting = vec![0u8; length];
    tcp.read_exact(&mut greeting).map_err(|e| format!("incomplete greeting from the server: {e}"))?;
    if greeting.first() == Some(&0xFF) {
        let message = String::from_utf8_lossy(greeting.get(3..).unwrap_or_default());
        return Err(format!("the server refused the connection: {}", message.trim_start_matches('#')));
    }
    if greeting.first() != Some(&10) {
        return Err("the server does not speak the MySQL protocol version 10".into());
    }
    // protocol version, NUL-terminated server version, connection id (4),
    // auth data (8), filler (1), then the low 16 bits of the capabilities.
    let version_end = greeting[1..].iter().position(|b| *b == 0).ok_or("malformed greeting")? + 1;
    let at = version_end + 1 + 4 + 8 + 1;
    let capabilities =
        greeting.get(at..at + 2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).ok_or("short greeting")?;
    if capabilities & CLIENT_SSL == 0 {
        return Err("the server does not offer TLS".into());
    }

    let flags = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION;
    let mut packet = Vec::with_capacity(36);
    packet.extend_from_slice(&[32, 0, 0, header[3].wrapping_add(1)]);
    packet.extend_from_slice(&flags.to_le_bytes());
    packet.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    packet.push(UTF8MB4_GENERAL_CI);
    packet.extend_from_slice(&[0u8; 23]);
    tcp.write_all(&packet).map_err(|e| format!("cannot send the SSL request: {e}"))
}
