//! TLS to the source database, against throw-away PostgreSQL and MariaDB
//! servers started for these tests (the shared servers are never
//! reconfigured): certificates made with the `openssl` command, a test user
//! that may only log in over TLS, and every `SOURCE_DATABASE_SSL_MODE` that
//! matters, including the failures an administrator must be able to read.
//!
//! When the servers cannot be started here, the tests fail, unless
//! CONNECTOR_TEST_SKIP names `tls` (common/skip.rs).

use std::path::Path;

use crate::common::secrets::{run_with_secrets_checked, Secrets};
use crate::common::servers::{Certs, TempMariadb, TempPostgres};
use crate::common::skip::{require, skip_requested};
use crate::common::*;

const PASSWORD: &str = "tls pw 'ü\\\" =@x";

/// `connector export` of `SELECT * FROM db.t` over the given TLS settings.
fn export(kind: &str, port: u16, host: &str, mode: &str, root_cert: Option<&Path>) -> (Run, Vec<Vec<Option<String>>>) {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("tls.parquet");
    let temp = tempfile::tempdir().unwrap();
    let mut vars = env(&[
        ("SOURCE_DATABASE_TYPE", kind),
        ("SOURCE_DATABASE_HOST", host),
        ("SOURCE_DATABASE_PORT", &port.to_string()),
        ("SOURCE_DATABASE_USER", "tls_reader"),
        ("SOURCE_DATABASE_PASSWORD", PASSWORD),
        ("SOURCE_DATABASE_NAME", "city"),
        ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.t ORDER BY id"),
        ("SOURCE_DATABASE_SSL_MODE", mode),
        ("SOURCE_CONNECT_MAX_ATTEMPTS", "3"),
        ("CONNECTOR_RETRY_BASE_MS", "10"),
        ("TEMP_DIR", temp.path().to_str().unwrap()),
    ]);
    if let Some(cert) = root_cert {
        vars = with(vars, &[("SOURCE_DATABASE_SSL_ROOT_CERT", cert.to_str().unwrap())]);
    }
    let run = run_with_secrets_checked(
        &Secrets::new([PASSWORD]),
        &["export", "--output", file.to_str().unwrap()],
        &vars,
        Some(temp.path()),
    );
    assert_temp_empty(temp.path());
    let rows = if file.is_file() { parquet_rows(&file) } else { Vec::new() };
    (run, rows)
}

fn expected() -> Vec<Vec<Option<String>>> {
    vec![vec![Some("1".into()), Some("über".into())], vec![Some("2".into()), None]]
}

fn assert_ok(what: &str, (run, rows): (Run, Vec<Vec<Option<String>>>)) {
    assert_eq!(run.code, 0, "{what}:\n{}", run.output());
    assert_eq!(rows, expected(), "{what}");
}

/// A TLS failure: exit code 4, the driver's reason, the hint naming the TLS
/// settings, and no retries (waiting does not fix a certificate).
fn assert_tls_failure(what: &str, (run, _): (Run, Vec<Vec<Option<String>>>), reason: &str) {
    assert_eq!(run.code, 4, "{what}:\n{}", run.output());
    assert!(run.stderr.contains(reason), "{what}: expected {reason:?} in:\n{}", run.stderr);
    assert!(
        run.stderr.contains("check SOURCE_DATABASE_SSL_MODE and SOURCE_DATABASE_SSL_ROOT_CERT"),
        "{what}: no hint naming the TLS settings:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("retrying"), "{what}: a TLS failure must not be retried:\n{}", run.stderr);
}

#[test]
fn postgres_over_tls_require_verify_full_and_the_failures() {
    if skip_requested("tls") {
        return;
    }
    // The server certificate names localhost only, not 127.0.0.1.
    let certs = require(
        "tls",
        Certs::generate(&["DNS:localhost"]).map_err(|e| format!("cannot make certificates with openssl: {e}")),
    );
    let conf = "ssl = on\nssl_cert_file = '../server.crt'\nssl_key_file = '../server.key'\nssl_ca_file = '../ca.crt'\n";
    // The test user may only log in over TLS, with a password.
    let hba = "hostssl all tls_reader 127.0.0.1/32 scram-sha-256\nhostssl all tls_reader ::1/128 scram-sha-256\n\
               hostnossl all tls_reader 0.0.0.0/0 reject\nhostnossl all tls_reader ::/0 reject";
    let pg = require(
        "tls",
        TempPostgres::start(conf, hba, |dir| certs.install_server_files(dir, "postgres").map(drop))
            .map_err(|e| format!("cannot start a throw-away PostgreSQL instance: {e}")),
    );
    pg.sql("postgres", &format!("CREATE ROLE tls_reader LOGIN PASSWORD {}", pg_quote_literal(PASSWORD)));
    pg.sql("postgres", "CREATE DATABASE city OWNER tls_reader");
    pg.sql("city", "CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'über'), (2, NULL); ALTER TABLE t OWNER TO tls_reader");
    let port = pg.port;

    assert_ok("require", export("postgres", port, "127.0.0.1", "require", None));
    assert_ok("verify-full, CA, localhost", export("postgres", port, "localhost", "verify-full", Some(&certs.ca)));
    assert_ok("verify-ca, CA, 127.0.0.1", export("postgres", port, "127.0.0.1", "verify-ca", Some(&certs.ca)));

    assert_tls_failure(
        "verify-full with the wrong CA",
        export("postgres", port, "localhost", "verify-full", Some(&certs.wrong_ca)),
        "certificate verify failed",
    );
    assert_tls_failure(
        "verify-full with a host name the certificate does not name",
        export("postgres", port, "127.0.0.1", "verify-full", Some(&certs.ca)),
        "does not match host name",
    );
    assert_tls_failure(
        "verify-full without a root certificate",
        export("postgres", port, "localhost", "verify-full", None),
        "root certificate file",
    );

    // Without TLS the server refuses the user: the login is really TLS-only.
    let (run, _) = export("postgres", port, "127.0.0.1", "disable", None);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("rejects connection") || run.stderr.contains("no encryption"), "{}", run.stderr);
}

fn start_mariadb(certs: &Certs) -> Result<TempMariadb, String> {
    let server = TempMariadb::start(&[], |dir| {
        let (cert, key, ca) = certs.install_server_files(dir, "mysql")?;
        Ok(vec![
            format!("--ssl-cert={}", cert.display()),
            format!("--ssl-key={}", key.display()),
            format!("--ssl-ca={}", ca.display()),
        ])
    })?;
    let have_ssl = server.sql("SHOW VARIABLES LIKE 'have_ssl'");
    if !have_ssl.contains("YES") {
        return Err(format!("the server did not enable TLS: {have_ssl}\n{}", server.error_log()));
    }
    let pw = mysql_quote_literal(PASSWORD);
    server.sql(&format!(
        "CREATE DATABASE city CHARACTER SET utf8mb4; \
         CREATE TABLE city.t (id INT, name VARCHAR(20)); INSERT INTO city.t VALUES (1, 'über'), (2, NULL); \
         CREATE USER 'tls_reader'@'%' IDENTIFIED BY {pw} REQUIRE SSL; GRANT SELECT ON city.* TO 'tls_reader'@'%';"
    ));
    Ok(server)
}

#[test]
fn mariadb_over_tls_required_verify_identity_and_a_wrong_ca() {
    if skip_requested("tls") {
        return;
    }
    let certs = require(
        "tls",
        Certs::generate(&["DNS:localhost", "IP:127.0.0.1"])
            .map_err(|e| format!("cannot make certificates with openssl: {e}")),
    );
    let server =
        require("tls", start_mariadb(&certs).map_err(|e| format!("cannot start a throw-away MariaDB server: {e}")));
    let port = server.port;

    assert_ok("required", export("mysql", port, "127.0.0.1", "required", None));
    assert_ok("verify_identity with the CA", export("mysql", port, "127.0.0.1", "verify_identity", Some(&certs.ca)));
    assert_ok("verify_ca with the CA", export("mysql", port, "127.0.0.1", "verify_ca", Some(&certs.ca)));

    assert_tls_failure(
        "verify_identity with the wrong CA",
        export("mysql", port, "127.0.0.1", "verify_identity", Some(&certs.wrong_ca)),
        "TLS check of the MySQL server",
    );
    assert_tls_failure(
        "verify_ca with the wrong CA",
        export("mysql", port, "127.0.0.1", "verify_ca", Some(&certs.wrong_ca)),
        "certificate",
    );

    // The user is REQUIRE SSL: without TLS the login is refused.
    let (run, _) = export("mysql", port, "127.0.0.1", "disabled", None);
    assert_eq!(run.code, 4, "{}", run.output());
    assert!(run.stderr.contains("Access denied"), "{}", run.stderr);
}

/// DuckDB's mysql_scanner (v1.5.5) maps `verify_identity` to a check of the
/// chain only; the connector checks the host name itself before ATTACH
/// (src/mysql_tls.rs), so a certificate that the trusted CA issued for
/// another host is refused, as PostgreSQL's `verify-full` does.
#[test]
fn mariadb_verify_identity_refuses_a_certificate_for_another_host() {
    if skip_requested("tls") {
        return;
    }
    let certs = require("tls", Certs::generate(&["DNS:otherhost.example"]));
    let server = require("tls", start_mariadb(&certs));
    assert_tls_failure(
        "verify_identity with a certificate for otherhost.example",
        export("mysql", server.port, "127.0.0.1", "verify_identity", Some(&certs.ca)),
        "certificate not valid for name \"127.0.0.1\"",
    );
}
