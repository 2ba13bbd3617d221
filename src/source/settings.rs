//! The source's settings (SOURCE_DATABASE_*), as the export uses them.

use std::path::PathBuf;

use super::kind::SourceKind;
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryDialect {
    /// The query is DuckDB SQL over the attached catalog `db`.
    DuckDb,
    /// The query text runs unchanged on the source server (pass-through).
    Native,
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub kind: SourceKind,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// Database name for servers; file path (or `:memory:`) for embedded types.
    pub database: String,
    pub query: String,
    pub ssl_mode: Option<String>,
    pub ssl_root_cert: Option<PathBuf>,
    /// Extra driver options, `key=value`, in the order given.
    pub options: Vec<(String, String)>,
    pub dialect: QueryDialect,
}

