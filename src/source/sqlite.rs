//! SQLite database files through DuckDB's sqlite extension.

use duckdb::Connection;

use super::connect::attach_as_catalog;
use super::kind::{Facts, SourceType};
use super::settings::SourceSettings;
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;

pub(crate) struct Sqlite;

const FACTS: Facts = Facts {
    names: &["sqlite", "sqlite3"],
    listed_names: &["sqlite"],
    display_name: "SQLite",
    database_hint: "a SQLite database file",
    extension: Some("sqlite_scanner"),
    ..Facts::FILE
};

impl SourceType for Sqlite {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        let attach = format!("ATTACH {} AS {CATALOG} (TYPE sqlite, READ_ONLY)", sql_literal(&settings.database));
        attach_as_catalog(conn, settings, &attach)
    }
}
