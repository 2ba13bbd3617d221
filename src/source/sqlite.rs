//! SQLite database files through DuckDB's sqlite extension.

use duckdb::Connection;

use super::connect::attach_as_catalog;
use super::kind::SourceType;
use super::settings::SourceSettings;
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;

pub(crate) struct Sqlite;

impl SourceType for Sqlite {
    fn names(&self) -> &'static [&'static str] {
        &["sqlite", "sqlite3"]
    }

    fn display_name(&self) -> &'static str {
        "SQLite"
    }

    fn database_hint(&self) -> &'static str {
        "a SQLite database file"
    }

    fn extension(&self) -> Option<&'static str> {
        Some("sqlite_scanner")
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        let attach = format!("ATTACH {} AS {CATALOG} (TYPE sqlite, READ_ONLY)", sql_literal(&settings.database));
        attach_as_catalog(conn, settings, &attach)
    }
}
