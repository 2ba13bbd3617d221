//! DuckDB database files, read by DuckDB itself; `:memory:` attaches
//! nothing, so the query runs on DuckDB alone (files, table functions).

use duckdb::Connection;

use super::connect::attach_as_catalog;
use super::kind::SourceType;
use super::settings::SourceSettings;
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;

pub(crate) struct DuckDbFile;

impl SourceType for DuckDbFile {
    fn names(&self) -> &'static [&'static str] {
        &["duckdb"]
    }

    fn display_name(&self) -> &'static str {
        "DuckDB"
    }

    fn database_hint(&self) -> &'static str {
        "a DuckDB database file, or :memory:"
    }

    fn accepts_in_memory(&self) -> bool {
        true
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        if settings.database == ":memory:" {
            return Ok(false);
        }
        let attach = format!("ATTACH {} AS {CATALOG} (READ_ONLY)", sql_literal(&settings.database));
        attach_as_catalog(conn, settings, &attach)
    }
}
