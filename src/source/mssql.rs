//! Microsoft SQL Server through ODBC (`odbc.rs`): the connection string is
//! built from the usual settings for the driver SOURCE_ODBC_DRIVER names —
//! Microsoft's ODBC Driver 18 by default, FreeTDS possible.
//!
//! TLS is on and the server certificate verified unless the settings say
//! otherwise: SOURCE_DATABASE_SSL_MODE maps onto the driver's options, and
//! `TrustServerCertificate` is only ever set by `require`, never silently.

use duckdb::Connection;

use super::exactness::TypeKnowledge;
use super::kind::{Facts, SourceType};
use super::odbc::{self, braced, Database};
use super::settings::{
    SourceSettings, SOURCE_DATABASE_OPTIONS, SOURCE_DATABASE_SSL_MODE, SOURCE_DATABASE_SSL_ROOT_CERT,
    SOURCE_ODBC_DRIVER,
};
use crate::error::Result;
use crate::setting::Setting;

pub(crate) struct Mssql;

/// SOURCE_ODBC_DRIVER's default: Microsoft's driver (msodbcsql18).
pub(crate) const DEFAULT_DRIVER: &str = "ODBC Driver 18 for SQL Server";

/// The SSL modes, in PostgreSQL's spelling: no TLS, TLS without checking
/// the certificate, TLS with the certificate and host name checked.
const DISABLE: &str = "disable";
const REQUIRE: &str = "require";
const VERIFY_FULL: &str = "verify-full";

const FACTS: Facts = Facts {
    names: &["mssql", "sqlserver"],
    listed_names: &["mssql", "sqlserver"],
    display_name: "SQL Server",
    default_port: Some(1433),
    ssl_modes: &[DISABLE, REQUIRE, VERIFY_FULL],
    extension: Some("odbc_scanner"),
    text_cast: "CAST({} AS nvarchar(max))",
    always_native: true,
    counts_alongside: false,
    odbc_driver: true,
    ..Facts::SERVER
};

impl SourceType for Mssql {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    fn warnings(&self, s: &SourceSettings) -> Vec<String> {
        match s.ssl_mode.map(|m| m.as_str()) {
            Some(REQUIRE) => vec![format!(
                "{}=require: the connection is encrypted but the server certificate is not checked (anyone between \
                 here and the server can read along); use verify-full with a certificate the system trusts",
                SOURCE_DATABASE_SSL_MODE.name
            )],
            Some(DISABLE) => vec![format!(
                "{}=disable: the data travels unencrypted to the SQL Server",
                SOURCE_DATABASE_SSL_MODE.name
            )],
            _ => Vec::new(),
        }
    }

    fn problems(&self, s: &SourceSettings) -> Vec<(&'static Setting, String)> {
        let mut problems = Vec::new();
        let freetds = is_freetds(s);
        if freetds && mode(s) == VERIFY_FULL {
            problems.push((
                &SOURCE_DATABASE_SSL_MODE,
                "FreeTDS cannot be told to verify the server certificate from here (it does when freetds.conf has \
                 `ca file`); set require to connect encrypted anyway, or use Microsoft's driver (the default \
                 SOURCE_ODBC_DRIVER), which verifies it"
                    .to_string(),
            ));
        }
        if s.ssl_root_cert.is_some() {
            problems.push((
                &SOURCE_DATABASE_SSL_ROOT_CERT,
                "the SQL Server drivers check the certificate against the system's trust store: add the CA there \
                 (Debian: copy it to /usr/local/share/ca-certificates/ and run update-ca-certificates; Windows: the \
                 certificate store)"
                    .to_string(),
            ));
        }
        // TLS and the connection's target have their own settings: an option
        // must not switch the certificate check off unseen.
        const OWN_SETTINGS: [&str; 8] =
            ["encrypt", "trustservercertificate", "encryption", "driver", "server", "uid", "pwd", "tds_version"];
        for (key, _) in s.options.iter().filter(|(key, _)| OWN_SETTINGS.contains(&key.as_str())) {
            problems.push((
                &SOURCE_DATABASE_OPTIONS,
                format!(
                    "'{key}' is set by the connector from its own settings (SOURCE_DATABASE_SSL_MODE, \
                     SOURCE_ODBC_DRIVER, SOURCE_DATABASE_HOST, …); set those instead"
                ),
            ));
        }
        if freetds {
            // FreeTDS ends a {…} value at the first `}` followed by `;`.
            let values = [s.user.as_deref(), s.password.as_ref().map(|p| p.expose()), Some(s.database.as_str())];
            if values.into_iter().flatten().any(|v| v.contains('}')) {
                problems.push((
                    &SOURCE_ODBC_DRIVER,
                    "FreeTDS cannot take a `}` in the user, password or database name; use Microsoft's driver"
                        .to_string(),
                ));
            }
        }
        problems
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        odbc::connect(conn, settings, &connection_string(settings))
    }

    fn echoed(&self, settings: &SourceSettings) -> Vec<String> {
        vec![connection_string(settings)]
    }

    fn pass_through(&self, native_query: &str) -> Option<String> {
        Some(odbc::query_sql(native_query))
    }

    fn close(&self, conn: &Connection) {
        odbc::close(conn);
    }

    fn login_hint(&self, lower: &str) -> Option<&'static str> {
        if lower.contains("can't open lib")
            || lower.contains("data source name not found")
            || lower.contains("specified driver could not be loaded")
        {
            Some(
                "the ODBC driver SOURCE_ODBC_DRIVER names is not installed: install Microsoft's msodbcsql18 \
                 (Debian/Ubuntu: Microsoft's package repository; Windows: the installer from Microsoft), or \
                 tdsodbc and set SOURCE_ODBC_DRIVER=FreeTDS; `odbcinst -q -d` lists the installed names",
            )
        } else {
            // Its login and database messages are told apart by connect::login_hint.
            None
        }
    }

    fn type_knowledge(&self, _settings: &SourceSettings) -> Option<&dyn TypeKnowledge> {
        Some(odbc::knowledge(Database::SqlServer))
    }
}

/// The driver's name, as the driver manager knows it.
fn driver(s: &SourceSettings) -> &str {
    s.odbc_driver.as_deref().unwrap_or(DEFAULT_DRIVER)
}

fn is_freetds(s: &SourceSettings) -> bool {
    let driver = driver(s).to_ascii_lowercase();
    driver.contains("freetds") || driver.contains("tdsodbc")
}

/// The SSL mode in force: verify-full unless set.
fn mode(s: &SourceSettings) -> &'static str {
    s.ssl_mode.map(|m| m.as_str()).unwrap_or(VERIFY_FULL)
}

/// The driver's TLS options for the SSL mode.
fn tls_options(s: &SourceSettings) -> &'static [(&'static str, &'static str)] {
    match (is_freetds(s), mode(s)) {
        // Microsoft's driver 18: Encrypt=yes (mandatory) checks the
        // certificate unless TrustServerCertificate=yes.
        (false, DISABLE) => &[("Encrypt", "no"), ("TrustServerCertificate", "no")],
        (false, REQUIRE) => &[("Encrypt", "yes"), ("TrustServerCertificate", "yes")],
        (false, _) => &[("Encrypt", "yes"), ("TrustServerCertificate", "no")],
        (true, DISABLE) => &[("Encryption", "off")],
        // FreeTDS checks a certificate only against freetds.conf's `ca file`
        // (verify-full is refused for it by `problems`).
        (true, _) => &[("Encryption", "require")],
    }
}

/// The ODBC connection string: values from the settings in `{…}` (any
/// character may be in them), the connector's own fixed ones bare (FreeTDS
/// misreads some options in braces: `Encryption={require}` is a
/// "local configuration error").
pub(crate) fn connection_string(s: &SourceSettings) -> String {
    let host = s.host.as_deref().unwrap_or_default();
    let port = s.port.unwrap_or(1433);
    let mut pairs: Vec<String> = vec![format!("Driver={}", braced(driver(s)))];
    // The TLS options first and the credentials last: unixODBC's trace shows
    // only the first 120 or so characters, and masks everything from PWD on.
    pairs.extend(tls_options(s).iter().map(|(key, value)| format!("{key}={value}")));
    if is_freetds(s) {
        pairs.push(format!("Server={}", braced(host)));
        pairs.push(format!("Port={port}"));
        // 7.4: SQL Server 2012 and later; UTF-8 so that text arrives as written.
        pairs.push("TDS_Version=7.4".into());
        pairs.push("ClientCharset=UTF-8".into());
    } else {
        pairs.push(format!("Server={}", braced(&format!("tcp:{host},{port}"))));
        pairs.push("APP=polyteia-db-connector".into());
    }
    pairs.push(format!("Database={}", braced(&s.database)));
    pairs.extend(s.options.iter().map(|(key, value)| format!("{key}={}", braced(value))));
    if let Some(user) = &s.user {
        pairs.push(format!("UID={}", braced(user)));
    }
    if let Some(password) = &s.password {
        pairs.push(format!("PWD={}", braced(password.expose())));
    }
    pairs.join(";")
}

#[cfg(test)]
mod tests {
    use super::super::settings::SslMode;
    use super::super::tests::settings;
    use super::*;
    use crate::source::SourceKind;

    fn mssql(driver: Option<&str>, mode: Option<&str>) -> SourceSettings {
        let mut s = settings(SourceKind::Mssql, "pa}ss;w=rd' \\@");
        s.port = Some(1433);
        s.odbc_driver = driver.map(str::to_string);
        s.ssl_mode = mode.map(|m| SslMode::parse(SourceKind::Mssql, m).expect("a mode mssql knows"));
        s
    }

    #[test]
    fn microsofts_driver_verifies_the_certificate_unless_told_otherwise() {
        let default = connection_string(&mssql(None, None));
        assert_eq!(
            default,
            "Driver={ODBC Driver 18 for SQL Server};Encrypt=yes;TrustServerCertificate=no;\
             Server={tcp:127.0.0.1,1433};APP=polyteia-db-connector;Database={my db};UID={o'brien};\
             PWD={pa}}ss;w=rd' \\@}"
        );
        assert_eq!(connection_string(&mssql(None, Some("verify-full"))), default);
        let require = connection_string(&mssql(None, Some("require")));
        assert!(require.contains("};Encrypt=yes;TrustServerCertificate=yes;Server="), "{require}");
        let disable = connection_string(&mssql(None, Some("disable")));
        assert!(disable.contains("};Encrypt=no;TrustServerCertificate=no;Server="), "{disable}");
        // The password survives the quoting.
        let pwd = odbc::attributes(&default).into_iter().find(|(k, _)| k == "pwd").unwrap().1;
        assert_eq!(pwd, "pa}ss;w=rd' \\@");
    }

    #[test]
    fn freetds_encrypts_by_its_own_options_and_cannot_verify_from_here() {
        let require = connection_string(&mssql(Some("FreeTDS"), Some("require")));
        assert!(
            require.starts_with(
                "Driver={FreeTDS};Encryption=require;Server={127.0.0.1};Port=1433;TDS_Version=7.4;ClientCharset=UTF-8;"
            ),
            "{require}"
        );
        assert!(!require.contains("Trust"), "{require}");
        assert!(
            connection_string(&mssql(Some("FreeTDS"), Some("disable"))).starts_with("Driver={FreeTDS};Encryption=off;")
        );
        let problems = Mssql.problems(&mssql(Some("FreeTDS"), None));
        assert!(problems.iter().any(|(s, m)| s.name == SOURCE_DATABASE_SSL_MODE.name && m.contains("ca file")));
        // Its `{…}` parser ends a value at `};`: a `}` in a value is refused.
        assert!(problems.iter().any(|(s, _)| s.name == SOURCE_ODBC_DRIVER.name));
        assert!(Mssql.problems(&mssql(None, None)).is_empty());
        let mut trusting = mssql(None, None);
        trusting.options = vec![("trustservercertificate".into(), "yes".into())];
        assert!(Mssql
            .problems(&trusting)
            .iter()
            .any(|(s, m)| s.name == "SOURCE_DATABASE_OPTIONS" && m.contains("'trustservercertificate'")));
    }

    #[test]
    fn every_value_survives_the_quoting_and_no_secret_shows_in_debug() {
        for value in ["a}b", "}}", "{x", "x;PWD=y", "'\\ @=\"", "ä;}{;"] {
            let mut s = mssql(None, None);
            s.user = Some(value.to_string());
            s.database = value.to_string();
            s.password = Some(crate::secret::Secret::new(format!("pw-{value}")));
            let attributes = odbc::attributes(&connection_string(&s));
            let get = |key: &str| attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            assert_eq!((get("uid"), get("database")), (Some(value), Some(value)), "{value:?}");
            assert_eq!(get("pwd"), Some(format!("pw-{value}").as_str()));
            assert_eq!(get("encrypt"), Some("yes"));
        }
        let mut s = mssql(None, None);
        s.odbc_connection_string = Some(crate::secret::Secret::new("Driver={x};PWD={hunter22-odbc}"));
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter22-odbc") && !debug.contains("pa}ss"), "{debug}");
    }

    #[test]
    fn require_and_disable_are_warned_about() {
        assert!(Mssql.warnings(&mssql(None, Some("require")))[0].contains("not checked"));
        assert!(Mssql.warnings(&mssql(None, Some("disable")))[0].contains("unencrypted"));
        assert!(Mssql.warnings(&mssql(None, None)).is_empty());
    }
}
