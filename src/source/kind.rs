//! The source kinds: what SOURCE_DATABASE_TYPE names.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Postgres,
    Mysql,
    DuckDb,
    Sqlite,
}

impl SourceKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [SourceKind; 4] = [SourceKind::Postgres, SourceKind::Mysql, SourceKind::DuckDb, SourceKind::Sqlite];

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

    /// The names a message lists for this kind (the spellings `parse` takes
    /// besides them are alternatives of these).
    pub fn listed_names(self) -> &'static [&'static str] {
        match self {
            SourceKind::Postgres => &["postgres"],
            SourceKind::Mysql => &["mysql", "mariadb"],
            SourceKind::DuckDb => &["duckdb"],
            SourceKind::Sqlite => &["sqlite"],
        }
    }

    /// The product's name as people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            SourceKind::Postgres => "PostgreSQL",
            SourceKind::Mysql => "MySQL",
            SourceKind::DuckDb => "DuckDB",
            SourceKind::Sqlite => "SQLite",
        }
    }

    /// What SOURCE_DATABASE_NAME names for this kind, for "is required (…)".
    pub fn database_hint(self) -> &'static str {
        match self {
            SourceKind::Postgres | SourceKind::Mysql => "the database to read from",
            SourceKind::DuckDb => "a DuckDB database file, or :memory:",
            SourceKind::Sqlite => "a SQLite database file",
        }
    }

    /// Whether an embedded kind can read a database that lives in memory only.
    pub fn accepts_in_memory(self) -> bool {
        self == SourceKind::DuckDb
    }

    /// The SSL mode that promises a checked host name, when the driver checks
    /// only the certificate chain in it (the connector then checks the name).
    pub fn identity_ssl_mode(self) -> Option<&'static str> {
        match self {
            SourceKind::Mysql => Some("verify_identity"),
            _ => None,
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
