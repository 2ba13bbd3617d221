//! PostgreSQL through DuckDB's postgres extension.

use duckdb::Connection;

use super::connect::{attach_as_catalog, connection_string, DriverKeys};
use super::kind::{ServerCancelStatement, SourceType};
use super::settings::{QueryDialect, SourceSettings};
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;

pub(crate) struct Postgres;

impl SourceType for Postgres {
    fn names(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }

    fn display_name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn default_port(&self) -> Option<u16> {
        Some(5432)
    }

    fn ssl_modes(&self) -> &'static [&'static str] {
        &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    }

    fn extension(&self) -> Option<&'static str> {
        Some("postgres_scanner")
    }

    /// The run's tag as `application_name` (unless SOURCE_DATABASE_OPTIONS
    /// sets one), by which a signal finds the statement to cancel.
    fn prepare(&self, settings: &mut SourceSettings, tag: &str) {
        if !settings.options.iter().any(|(k, _)| k == "application_name") {
            settings.options.push(("application_name".into(), tag.to_string()));
        }
    }

    fn tuning(&self, dialect: QueryDialect) -> &'static [&'static str] {
        match dialect {
            // The PostgreSQL scanner reads a table as parallel ctid ranges. With
            // insertion order preserved, COPY buffers every range's rows until the
            // ones before it are written; without, each thread writes its own row
            // groups. 1M-row table, 2 threads: 1.06–1.12 s / 253–284 MB peak RSS
            // instead of 1.08–1.23 s / 301–324 MB. Only the order of an unordered
            // result changes: DuckDB still keeps a query's ORDER BY (the plan has a
            // fixed order, tests/it/ordering.rs). Not for the native dialect, where an
            // ORDER BY inside postgres_query() is invisible to DuckDB.
            QueryDialect::DuckDb => &["SET preserve_insertion_order = false"],
            QueryDialect::Native => &[],
        }
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        let attach = format!("ATTACH {} AS {CATALOG} (TYPE postgres, READ_ONLY)", sql_literal(&conninfo(settings)));
        attach_as_catalog(conn, settings, &attach)
    }

    fn echoed(&self, settings: &SourceSettings) -> Vec<String> {
        vec![conninfo(settings)]
    }

    fn pass_through(&self, native_query: &str) -> Option<String> {
        Some(format!("SELECT * FROM postgres_query({}, {})", sql_literal(CATALOG), sql_literal(native_query)))
    }

    fn server_cancel(&self) -> Option<&dyn ServerCancelStatement> {
        Some(self)
    }

    fn login_hint(&self, lower: &str) -> Option<&'static str> {
        if lower.contains("role \"") && lower.contains("does not exist") {
            // PostgreSQL names the user it does not know.
            Some("check SOURCE_DATABASE_USER")
        } else if lower.contains("database \"") && lower.contains("does not exist") {
            Some("check SOURCE_DATABASE_NAME (and that SOURCE_DATABASE_USER may read it)")
        } else if lower.contains("password authentication failed") || lower.contains("authentication failed") {
            // The server does not say whether the user or the password is wrong.
            Some("check SOURCE_DATABASE_USER and SOURCE_DATABASE_PASSWORD")
        } else if lower.contains("no password supplied") {
            Some("check SOURCE_DATABASE_PASSWORD (or SOURCE_DATABASE_PASSWORD_FILE)")
        } else if lower.contains("no pg_hba.conf entry") {
            Some(
                "check SOURCE_DATABASE_USER, SOURCE_DATABASE_NAME and SOURCE_DATABASE_SSL_MODE: the server's pg_hba.conf \
                 admits no such connection from this host",
            )
        } else {
            None
        }
    }
}

impl ServerCancelStatement for Postgres {
    /// `pg_cancel_backend` for the backends that run this run's statement.
    fn cancel(
        &self,
        conn: &Connection,
        _settings: &SourceSettings,
        tag: &str,
        marker: &str,
    ) -> std::result::Result<usize, duckdb::Error> {
        // The filter runs before the cancel (OFFSET 0 keeps the planner from merging them).
        let inner = format!(
            "SELECT pg_cancel_backend(pid) AS cancelled FROM (SELECT pid FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND state = 'active' \
             AND (application_name = {} OR position({} in query) > 0) OFFSET 0) AS ours",
            sql_literal(tag),
            sql_literal(marker)
        );
        let sql = format!(
            "SELECT count(*) FILTER (WHERE cancelled) FROM postgres_query({}, {})",
            sql_literal(CATALOG),
            sql_literal(&inner)
        );
        conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).map(|n| n as usize)
    }
}

/// A libpq connection string; every value quoted, so spaces, quotes,
/// backslashes, `=` and `@` reach the server unchanged.
pub fn conninfo(s: &SourceSettings) -> String {
    const KEYS: DriverKeys = DriverKeys {
        carries_settings: true,
        database: "dbname",
        ssl_mode: "sslmode",
        ssl_root_cert: "sslrootcert",
        defaults: &[("application_name", "polyteia-db-connector"), ("connect_timeout", "30")],
    };
    connection_string(s, &KEYS, |value| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")))
}
