//! What every kind shares when it connects: `key=value` connection strings,
//! the ATTACH itself, and a connection error that names what to check.

use duckdb::Connection;

use super::settings::SourceSettings;
use super::CATALOG;
use crate::error::{Error, ErrorKind, Result};

/// The key names one driver uses for the settings we pass.
pub(crate) struct DriverKeys {
    /// Whether host, port, user, password, database and TLS go into the
    /// string (else they travel in a DuckDB secret).
    pub carries_settings: bool,
    pub database: &'static str,
    pub ssl_mode: &'static str,
    pub ssl_root_cert: &'static str,
    /// Options we set unless SOURCE_DATABASE_OPTIONS does.
    pub defaults: &'static [(&'static str, &'static str)],
}

/// `key=value` pairs, each value quoted by `quote`, then the user's options.
pub(crate) fn connection_string(s: &SourceSettings, keys: &DriverKeys, quote: fn(&str) -> String) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if keys.carries_settings {
        pairs.extend(s.host.as_ref().map(|h| ("host", h.clone())));
        pairs.extend(s.port.map(|p| ("port", p.to_string())));
        pairs.extend(s.user.as_ref().map(|u| ("user", u.clone())));
        pairs.extend(s.password.as_ref().map(|p| ("password", p.expose().to_string())));
        pairs.push((keys.database, s.database.clone()));
        pairs.extend(s.ssl_mode.map(|m| (keys.ssl_mode, m.as_str().to_string())));
        pairs.extend(s.ssl_root_cert.as_ref().map(|c| (keys.ssl_root_cert, c.to_string_lossy().into_owned())));
    }
    for (key, value) in keys.defaults {
        if !s.options.iter().any(|(k, _)| k == key) {
            pairs.push((key, value.to_string()));
        }
    }
    pairs.extend(s.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
    pairs.iter().map(|(key, value)| format!("{key}={}", quote(value))).collect::<Vec<_>>().join(" ")
}

/// Runs `attach_sql` and makes the catalog the default, so that
/// `SELECT * FROM t` works as well as the documented `db.t`.
pub(crate) fn attach_as_catalog(conn: &Connection, settings: &SourceSettings, attach_sql: &str) -> Result<bool> {
    conn.execute_batch(attach_sql).map_err(|e| connect_error(settings, &e, attach_sql))?;
    conn.execute_batch(&format!("USE {CATALOG}"))
        .map_err(|e| Error::new(ErrorKind::SourceUnreachable, format!("cannot select the attached database: {e}")))?;
    Ok(true)
}

pub(crate) fn connect_error(settings: &SourceSettings, err: &duckdb::Error, attach_sql: &str) -> Error {
    let kind = settings.kind;
    let what = if kind.takes_connection_string() {
        format!("cannot connect through ODBC ({})", super::odbc::target(settings))
    } else if kind.is_server() {
        format!(
            "cannot connect to the {} database {} at {}:{} as {}",
            kind.name(),
            settings.database,
            settings.host.as_deref().unwrap_or("?"),
            settings.port.map(|p| p.to_string()).unwrap_or_default(),
            settings.user.as_deref().unwrap_or("?"),
        )
    } else {
        format!("cannot open the {} database file {}", kind.name(), settings.database)
    };
    // The drivers echo the whole connection string; it repeats our settings
    // (and words like "password" or "connect_timeout" that would mislead the
    // hint below), so it is cut out of the message.
    let mut text = super::odbc::cut_connection_string(&err.to_string());
    for echoed in kind.source_type().echoed(settings).into_iter().chain([attach_sql.to_string()]) {
        if !echoed.is_empty() {
            text = text.replace(&echoed, "…");
        }
    }
    let lower = text.to_ascii_lowercase();
    let hint = login_hint(kind.source_type(), &lower);
    let error = Error::new(
        ErrorKind::SourceUnreachable,
        format!("{what}: {}; {hint}", super::errors::strip_duckdb_prefix(&text)),
    );
    // A server that is down, restarting or not reachable yet may come back; a
    // refused login or a missing database will not.
    const MAY_RECOVER: [&str; 10] = [
        "connection refused",
        // FreeTDS says this for a refused port and an unknown host alike.
        "adaptive server is unavailable",
        // Microsoft's ODBC driver: the TCP connection failed.
        "tcp provider",
        "timeout",
        "timed out",
        "could not connect",
        "can't connect",
        "lost connection",
        "the database system is starting up",
        "temporary failure in name resolution",
    ];
    match MAY_RECOVER.iter().any(|m| lower.contains(m)) {
        true => error.transient(),
        false => error,
    }
}

/// What the servers and drivers say when the host or port is wrong, or the
/// server is not listening.
const HOST_MARKERS: [&str; 15] = [
    "connection refused",
    "unknown server host",
    "adaptive server is unavailable",
    "tcp provider",
    "server is not found or not accessible",
    "could not translate host name",
    "name or service not known",
    "temporary failure in name resolution",
    "unknown mysql server host",
    "can't connect to",
    "no route to host",
    "network is unreachable",
    "timeout expired",
    "timed out",
    "could not connect to server",
];

/// What a TLS failure's message says.
pub(crate) const TLS_MARKERS: [&str; 3] = ["ssl", "tls", "certificate"];

/// The hint for a TLS failure of a source named by a connection string.
pub(crate) const TLS_IN_CONNECTION_STRING: &str = "check the TLS attributes in SOURCE_ODBC_CONNECTION_STRING";

/// What to check after a failed connection, from the server's or driver's
/// message: the setting it points at, or all of them when it cannot tell.
/// The kind's own hint first; then what PostgreSQL, MySQL/MariaDB and SQL
/// Server say of a missing database or user and of a refused login, in the
/// words of the kind's settings (through ODBC: the connection string's
/// attributes).
pub(crate) fn login_hint(source_type: &dyn super::kind::SourceType, lower: &str) -> &'static str {
    if let Some(hint) = source_type.login_hint(lower) {
        return hint;
    }
    let says = |markers: &[&str]| markers.iter().any(|m| lower.contains(m));
    // (with the usual settings, with a connection string)
    let (settings, connection_string) = if says(&["unknown database", "cannot open database"])
        || (lower.contains("access denied for user") && lower.contains("to database"))
        || (lower.contains("database \"") && lower.contains("does not exist"))
    {
        // MySQL answers the same for a database that is missing and one the user may not read.
        (
            "check SOURCE_DATABASE_NAME (and that SOURCE_DATABASE_USER may read it)",
            "check the database (Database=) in SOURCE_ODBC_CONNECTION_STRING, and that its user may read it",
        )
    } else if lower.contains("role \"") && lower.contains("does not exist") {
        // PostgreSQL names the user it does not know.
        ("check SOURCE_DATABASE_USER", "check the user (Uid=) in SOURCE_ODBC_CONNECTION_STRING")
    } else if says(&["authentication failed", "access denied", "login failed"]) {
        // The servers do not say whether the user or the password is wrong.
        (
            "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD",
            "check the user and password (Uid=, Pwd=) in SOURCE_ODBC_CONNECTION_STRING",
        )
    } else if says(&TLS_MARKERS) {
        ("check SOURCE_DATABASE_SSL_MODE and SOURCE_DATABASE_SSL_ROOT_CERT", TLS_IN_CONNECTION_STRING)
    } else if says(&HOST_MARKERS) {
        (
            "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and that the server accepts connections from here",
            "check the server and port (Server=, Port=) in SOURCE_ODBC_CONNECTION_STRING, and that the server \
             accepts connections from here",
        )
    } else {
        (
            "check SOURCE_DATABASE_HOST, SOURCE_DATABASE_PORT, SOURCE_DATABASE_USER, SOURCE_DATABASE_PASSWORD and \
             SOURCE_DATABASE_NAME",
            "check SOURCE_ODBC_CONNECTION_STRING (server, port, user, password, database), and that the server \
             accepts connections from here",
        )
    };
    match source_type.facts().takes_connection_string {
        true => connection_string,
        false => settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceKind;

    #[test]
    fn the_login_hint_names_what_the_message_points_at() {
        for (message, hint) in [
            (r#"connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "nobody" does not exist"#, "check SOURCE_DATABASE_USER"),
            (r#"FATAL:  database "nodb" does not exist"#, "check SOURCE_DATABASE_NAME (and"),
            ("Access denied for user 'u'@'127.0.0.1' to database 'nodb'", "check SOURCE_DATABASE_NAME (and"),
            ("Unknown database 'nodb'", "check SOURCE_DATABASE_NAME (and"),
            (r#"FATAL:  password authentication failed for user "u""#, "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"),
            ("Access denied for user 'u'@'127.0.0.1' (using password: YES)", "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD"),
            ("fe_sendauth: no password supplied", "check SOURCE_DATABASE_PASSWORD (or"),
            (r#"FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "u", database "d", SSL off"#, "pg_hba.conf"),
            (r#"root certificate file "/root/.postgresql/root.crt" does not exist"#, "check SOURCE_DATABASE_SSL_MODE"),
            ("Connection refused Is the server running on that host", "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and"),
            ("Can't connect to server on '10.1.1.1' (110)", "check SOURCE_DATABASE_HOST and SOURCE_DATABASE_PORT, and"),
            ("something nobody foresaw", "check SOURCE_DATABASE_HOST, SOURCE_DATABASE_PORT, SOURCE_DATABASE_USER, SOURCE_DATABASE_PASSWORD and SOURCE_DATABASE_NAME"),
        ] {
            // Each message is one that PostgreSQL or MySQL gives; the hint must fit
            // whichever kind said it.
            let lower = message.to_ascii_lowercase();
            let got: Vec<&str> = [SourceKind::Postgres, SourceKind::Mysql]
                .map(|kind| login_hint(kind.source_type(), &lower))
                .into_iter()
                .filter(|got| got.contains(hint))
                .collect();
            assert!(!got.is_empty(), "{message}: no kind gives {hint}");
        }
        assert_eq!(
            login_hint(SourceKind::Postgres.source_type(), r#"fatal:  role "nobody" does not exist"#),
            "check SOURCE_DATABASE_USER"
        );
        // SQL Server's words, with its settings; through ODBC, the connection string's attributes.
        for (kind, message, hint) in [
            (
                SourceKind::Mssql,
                "Cannot open database \"X\" requested by the login. The login failed.",
                "check SOURCE_DATABASE_NAME (and",
            ),
            (
                SourceKind::Mssql,
                "Login failed for user 'u'.",
                "check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD",
            ),
            (
                SourceKind::Odbc,
                "Access denied for user 'u'@'h' to database 'd'",
                "check the database (Database=) in SOURCE_ODBC_CONNECTION_STRING",
            ),
            (
                SourceKind::Odbc,
                r#"FATAL:  role "u" does not exist"#,
                "check the user (Uid=) in SOURCE_ODBC_CONNECTION_STRING",
            ),
            (
                SourceKind::Odbc,
                "Login failed for user 'u'.",
                "check the user and password (Uid=, Pwd=) in SOURCE_ODBC_CONNECTION_STRING",
            ),
            (
                SourceKind::Odbc,
                "Can't connect to server on '127.0.0.1' (115)",
                "check the server and port (Server=, Port=)",
            ),
            // Whatever database is behind the driver: a TLS word first.
            (SourceKind::Odbc, "SSL error: password authentication failed", TLS_IN_CONNECTION_STRING),
            (SourceKind::Odbc, "something nobody foresaw", "check SOURCE_ODBC_CONNECTION_STRING (server, port, user"),
        ] {
            let got = login_hint(kind.source_type(), &message.to_ascii_lowercase());
            assert!(got.starts_with(hint), "{kind:?} {message}: {got}");
        }
    }
}
