//! The source kinds SOURCE_DATABASE_TYPE names, and the one place that
//! picks the description of a kind ([`SourceKind::source_type`]). Each kind
//! is described once, in its own file, by a [`SourceType`].

use duckdb::Connection;

use super::exactness::{ScannedPair, TypeKnowledge};
use super::settings::{QueryDialect, SourceSettings};
use super::{duckdb_file, mssql, mysql, odbc, postgres, sqlite};
use crate::error::Result;
use crate::setting::Setting;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Postgres,
    Mysql,
    DuckDb,
    Sqlite,
    Mssql,
    Odbc,
}

impl SourceKind {
    /// Every kind, in the order messages and the documentation list them.
    pub const ALL: [SourceKind; 6] = [
        SourceKind::Postgres,
        SourceKind::Mysql,
        SourceKind::DuckDb,
        SourceKind::Sqlite,
        SourceKind::Mssql,
        SourceKind::Odbc,
    ];

    /// The description of this kind: the one match over the kinds.
    pub(crate) fn source_type(self) -> &'static dyn SourceType {
        match self {
            SourceKind::Postgres => &postgres::Postgres,
            SourceKind::Mysql => &mysql::Mysql,
            SourceKind::DuckDb => &duckdb_file::DuckDbFile,
            SourceKind::Sqlite => &sqlite::Sqlite,
            SourceKind::Mssql => &mssql::Mssql,
            SourceKind::Odbc => &odbc::Odbc,
        }
    }

    /// The kind a SOURCE_DATABASE_TYPE value names (any of its spellings).
    pub fn parse(value: &str) -> Option<SourceKind> {
        let value = value.trim().to_ascii_lowercase();
        SourceKind::ALL.into_iter().find(|kind| kind.facts().names.contains(&value.as_str()))
    }

    /// What this kind is, as data.
    pub(crate) fn facts(self) -> &'static Facts {
        self.source_type().facts()
    }

    /// Server types need host, port and user; embedded types read a file.
    pub fn is_server(self) -> bool {
        self.facts().default_port.is_some()
    }

    pub fn default_port(self) -> Option<u16> {
        self.facts().default_port
    }

    /// The canonical name (the first spelling).
    pub fn name(self) -> &'static str {
        self.facts().names[0]
    }

    /// Whether the source is named by a connection string of its own
    /// (SOURCE_ODBC_CONNECTION_STRING), not by host, port, user and database.
    pub fn takes_connection_string(self) -> bool {
        self.facts().takes_connection_string
    }

    /// Whether the query is always in the source database's own SQL (no
    /// DuckDB dialect: there is no catalog to attach).
    pub fn always_native(self) -> bool {
        self.facts().always_native
    }
}

/// What one kind of source is, as plain data: a `FACTS` constant in each
/// kind's file. What a kind does (attach, cancel, read its errors) is its
/// [`SourceType`].
pub(crate) struct Facts {
    /// The SOURCE_DATABASE_TYPE spellings, the canonical one first.
    pub(crate) names: &'static [&'static str],
    /// The spellings a message lists (the rest are alternatives of these).
    pub(crate) listed_names: &'static [&'static str],
    /// The product's name as people write it ("PostgreSQL").
    pub(crate) display_name: &'static str,
    /// What SOURCE_DATABASE_NAME names for this kind, for "is required (…)".
    pub(crate) database_hint: &'static str,
    /// A database server's default port; `None` for a file source.
    pub(crate) default_port: Option<u16>,
    /// Accepted SOURCE_DATABASE_SSL_MODE values; empty when TLS does not apply.
    pub(crate) ssl_modes: &'static [&'static str],
    /// The SSL mode that promises a checked host name where the driver checks
    /// only the certificate chain in it (the connector then checks the name).
    pub(crate) identity_ssl_mode: Option<&'static str>,
    /// Whether SOURCE_DATABASE_NAME may be `:memory:` (an embedded kind).
    pub(crate) accepts_in_memory: bool,
    /// The DuckDB extension that reads this kind (its canonical file name).
    pub(crate) extension: Option<&'static str>,
    /// The source half of the allowlist: every (source type → DuckDB type)
    /// pair this kind's scanner is known to produce; a column read through
    /// any other pair is refused. Empty where DuckDB reads its own values
    /// (no check).
    pub(crate) scanned: &'static [ScannedPair],
    /// The value as the server's text, in its own SQL (`{}` for the column),
    /// for the refusal of a pair not on `scanned`.
    pub(crate) text_cast: &'static str,
    /// Whether SOURCE_ODBC_CONNECTION_STRING names the source (no host,
    /// user, database settings).
    pub(crate) takes_connection_string: bool,
    /// Whether every query runs on the server in its own SQL.
    pub(crate) always_native: bool,
    /// Whether the server-side counts may run on a second DuckDB connection
    /// while the COPY runs; `false` runs them before it on the same one (a
    /// connection handle that lives in one DuckDB connection only).
    pub(crate) counts_alongside: bool,
    /// Whether SOURCE_ODBC_DRIVER chooses the ODBC driver this kind builds
    /// its connection string for.
    pub(crate) odbc_driver: bool,
}

impl Facts {
    /// The facts of a file source read by DuckDB itself; kinds start from
    /// these and name what differs.
    pub(crate) const FILE: Facts = Facts {
        names: &[],
        listed_names: &[],
        display_name: "",
        database_hint: "a database file",
        default_port: None,
        ssl_modes: &[],
        identity_ssl_mode: None,
        accepts_in_memory: false,
        extension: None,
        scanned: &[],
        text_cast: "CAST({} AS VARCHAR)",
        takes_connection_string: false,
        always_native: false,
        counts_alongside: true,
        odbc_driver: false,
    };

    /// The facts of a database server; kinds start from these.
    pub(crate) const SERVER: Facts = Facts { database_hint: "the database to read from", ..Facts::FILE };
}

/// What one kind of source does: how DuckDB reaches it, how it is tuned,
/// how its statements are cancelled and how its errors read. Everything but
/// its facts and its ATTACH has a default that fits an embedded file source.
pub(crate) trait SourceType: Sync {
    /// What this kind is: a constant in the kind's file.
    fn facts(&self) -> &'static Facts;

    /// Adjusts the settings before connecting: e.g. names the run on the
    /// server with `tag`.
    fn prepare(&self, _settings: &mut SourceSettings, _tag: &str) {}

    /// Problems of this kind with the settings, reported with every other
    /// configuration problem (exit 3).
    fn problems(&self, _settings: &SourceSettings) -> Vec<(&'static Setting, String)> {
        Vec::new()
    }

    /// Releases what `attach` opened outside DuckDB's catalog (an ODBC
    /// connection handle); called once, when the source is dropped.
    fn close(&self, _conn: &Connection) {}

    /// Warnings about the settings, logged before the export starts.
    fn warnings(&self, _settings: &SourceSettings) -> Vec<String> {
        Vec::new()
    }

    /// DuckDB settings chosen by measurement, applied before ATTACH.
    fn tuning(&self, _dialect: QueryDialect) -> &'static [&'static str] {
        &[]
    }

    /// Attaches the source read-only as [`super::CATALOG`]; `Ok(false)`
    /// when there is nothing to attach (the query runs on DuckDB itself).
    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool>;

    /// Strings of ours that the driver may echo in an error (connection
    /// strings with the password); they are cut out of messages.
    fn echoed(&self, _settings: &SourceSettings) -> Vec<String> {
        Vec::new()
    }

    /// The native-dialect query as DuckDB runs it (a pass-through call);
    /// `None` when this kind has no native dialect.
    fn pass_through(&self, _native_query: &str) -> Option<String> {
        None
    }

    /// Cancels the statements that carry `marker` on the server, from a
    /// second connection of the same DuckDB; how many were found. `None`
    /// when this kind has no server-side cancel.
    fn server_cancel(&self) -> Option<&dyn ServerCancelStatement> {
        None
    }

    /// A hint that names the setting a connection error points at, when
    /// this kind's server or driver says so recognisably.
    fn login_hint(&self, _lower_message: &str) -> Option<&'static str> {
        None
    }

    /// What this kind's scanner changes in values, and how to tell; `None`
    /// where DuckDB reads the source's values as they are (its own files).
    /// `settings` say which database is behind a generic driver (ODBC).
    fn type_knowledge(&self, _settings: &SourceSettings) -> Option<&dyn TypeKnowledge> {
        None
    }
}

/// How a server kind cancels this run's statement (see `source::cancel`).
pub(crate) trait ServerCancelStatement: Sync {
    fn cancel(
        &self,
        conn: &Connection,
        settings: &SourceSettings,
        tag: &str,
        marker: &str,
    ) -> std::result::Result<usize, duckdb::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_names_itself_and_lists_only_its_own_spellings() {
        for kind in SourceKind::ALL {
            let facts = kind.facts();
            assert!(!facts.names.is_empty() && !facts.display_name.is_empty(), "{kind:?}");
            assert!(!facts.listed_names.is_empty(), "{kind:?}");
            assert!(facts.listed_names.iter().all(|n| facts.names.contains(n)), "{kind:?}");
            for name in facts.names {
                assert_eq!(SourceKind::parse(&name.to_uppercase()), Some(kind));
            }
            if let Some(mode) = facts.identity_ssl_mode {
                assert!(facts.ssl_modes.contains(&mode), "{kind:?}");
            }
        }
    }
}
