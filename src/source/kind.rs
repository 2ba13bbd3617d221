//! The source kinds SOURCE_DATABASE_TYPE names, and the one place that
//! picks the description of a kind ([`SourceKind::source_type`]). Each kind
//! is described once, in its own file, by a [`SourceType`].

use duckdb::Connection;

use super::exactness::TypeKnowledge;
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
        SourceKind::ALL.into_iter().find(|kind| kind.source_type().names().contains(&value.as_str()))
    }

    /// Server types need host, port and user; embedded types read a file.
    pub fn is_server(self) -> bool {
        self.default_port().is_some()
    }

    pub fn default_port(self) -> Option<u16> {
        self.source_type().default_port()
    }

    /// The canonical name (the first spelling).
    pub fn name(self) -> &'static str {
        self.source_type().names()[0]
    }

    /// The values SOURCE_DATABASE_SSL_MODE may take (none: TLS does not apply).
    pub fn ssl_modes(self) -> &'static [&'static str] {
        self.source_type().ssl_modes()
    }

    /// The names a message lists for this kind (the other spellings `parse`
    /// takes are alternatives of these).
    pub fn listed_names(self) -> &'static [&'static str] {
        self.source_type().listed_names()
    }

    /// The product's name as people write it.
    pub fn display_name(self) -> &'static str {
        self.source_type().display_name()
    }

    /// What SOURCE_DATABASE_NAME names for this kind, for "is required (…)".
    pub fn database_hint(self) -> &'static str {
        self.source_type().database_hint()
    }

    /// Whether the source is named by a connection string of its own
    /// (SOURCE_ODBC_CONNECTION_STRING), not by host, port, user and database.
    pub fn takes_connection_string(self) -> bool {
        self.source_type().takes_connection_string()
    }

    /// Whether the query is always in the source database's own SQL (no
    /// DuckDB dialect: there is no catalog to attach).
    pub fn always_native(self) -> bool {
        self.source_type().always_native()
    }

    /// Whether an embedded kind can read a database that lives in memory only.
    pub fn accepts_in_memory(self) -> bool {
        self.source_type().accepts_in_memory()
    }

    /// The SSL mode that promises a checked host name, when the driver checks
    /// only the certificate chain in it (the connector then checks the name).
    pub fn identity_ssl_mode(self) -> Option<&'static str> {
        self.source_type().identity_ssl_mode()
    }
}

/// What the connector knows about one kind of source: how DuckDB reaches it,
/// how it is tuned, how its statements are cancelled and how its errors read.
/// Everything has a default that fits an embedded file source.
pub(crate) trait SourceType: Sync {
    /// The SOURCE_DATABASE_TYPE spellings, the canonical one first.
    fn names(&self) -> &'static [&'static str];

    /// The spellings a message lists (the rest are alternatives of these).
    fn listed_names(&self) -> &'static [&'static str] {
        &self.names()[..1]
    }

    /// The product's name as people write it ("PostgreSQL").
    fn display_name(&self) -> &'static str;

    /// What SOURCE_DATABASE_NAME names for this kind, for "is required (…)".
    fn database_hint(&self) -> &'static str {
        if self.default_port().is_some() {
            "the database to read from"
        } else {
            "a database file"
        }
    }

    /// Whether SOURCE_ODBC_CONNECTION_STRING names the source (no host, user,
    /// database settings).
    fn takes_connection_string(&self) -> bool {
        false
    }

    /// Whether every query runs on the server in its own SQL.
    fn always_native(&self) -> bool {
        false
    }

    /// Whether the server-side counts may run on a second DuckDB connection
    /// while the COPY runs; `false` runs them before it on the same one (a
    /// connection handle that lives in one DuckDB connection only).
    fn counts_alongside(&self) -> bool {
        true
    }

    /// Releases what `attach` opened outside DuckDB's catalog (an ODBC
    /// connection handle); called once, when the source is dropped.
    fn close(&self, _conn: &Connection) {}

    /// Whether SOURCE_DATABASE_NAME may be `:memory:` (an embedded kind).
    fn accepts_in_memory(&self) -> bool {
        false
    }

    /// The SSL mode that promises a checked host name where the driver checks
    /// only the certificate chain in it (the connector then checks the name).
    fn identity_ssl_mode(&self) -> Option<&'static str> {
        None
    }

    /// A database server's default port; `None` for a file source.
    fn default_port(&self) -> Option<u16> {
        None
    }

    /// Accepted SOURCE_DATABASE_SSL_MODE values; empty when TLS does not apply.
    fn ssl_modes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The DuckDB extension that reads this kind (its canonical file name).
    fn extension(&self) -> Option<&'static str> {
        None
    }

    /// Adjusts the settings before connecting: e.g. names the run on the
    /// server with `tag`.
    fn prepare(&self, _settings: &mut SourceSettings, _tag: &str) {}

    /// Problems of this kind with the settings, reported with every other
    /// configuration problem (exit 3).
    fn problems(&self, _settings: &SourceSettings) -> Vec<(&'static Setting, String)> {
        Vec::new()
    }

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
