//! DuckDB database files, read by DuckDB itself; `:memory:` attaches
//! nothing, so the query runs on DuckDB alone (files, table functions).

use duckdb::Connection;

use super::connect::attach_as_catalog;
use super::kind::{Facts, SourceType};
use super::settings::SourceSettings;
use super::CATALOG;
use crate::error::Result;
use crate::sql::sql_literal;

pub(crate) struct DuckDbFile;

const FACTS: Facts = Facts {
    names: &["duckdb"],
    listed_names: &["duckdb"],
    display_name: "DuckDB",
    database_hint: "a DuckDB database file, or :memory:",
    accepts_in_memory: true,
    ..Facts::FILE
};

impl SourceType for DuckDbFile {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        if settings.database == ":memory:" {
            return Ok(false);
        }
        let attach = format!("ATTACH {} AS {CATALOG} (READ_ONLY)", sql_literal(&settings.database));
        attach_as_catalog(conn, settings, &attach)
    }
}
