//! The source kinds: what SOURCE_DATABASE_TYPE names.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Postgres,
    Mysql,
    DuckDb,
    Sqlite,
}

impl SourceKind {
    pub fn parse(value: &str) -> Option<SourceKind> {
        match value.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(SourceKind::Postgres),
            "mysql" | "mariadb" => Some(SourceKind::Mysql),
            "duckdb" => Some(SourceKind::DuckDb),
            "sqlite" | "sqlite3" => Some(SourceKind::Sqlite),
            _ => None,
        }
    }

    /// Server types need host, port and user; embedded types read a file.
    pub fn is_server(self) -> bool {
        matches!(self, SourceKind::Postgres | SourceKind::Mysql)
    }

    pub fn default_port(self) -> Option<u16> {
        match self {
            SourceKind::Postgres => Some(5432),
            SourceKind::Mysql => Some(3306),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Mysql => "mysql",
            SourceKind::DuckDb => "duckdb",
            SourceKind::Sqlite => "sqlite",
        }
    }

    /// The values SOURCE_DATABASE_SSL_MODE may take (none: TLS does not apply).
    pub fn ssl_modes(self) -> &'static [&'static str] {
        match self {
            SourceKind::Postgres => &["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
            SourceKind::Mysql => &["disabled", "preferred", "required", "verify_ca", "verify_identity"],
            _ => &[],
        }
    }
}
