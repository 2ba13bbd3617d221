//! Any database through ODBC: DuckDB's odbc_scanner with the driver that
//! SOURCE_ODBC_CONNECTION_STRING names. `mssql.rs` builds its connection
//! string from the usual settings and goes the same way.
//!
//! The extension (1.5.5) can crash when `odbc_query` is given a connection
//! string (segfaults seen with psqlODBC and MariaDB Connector/ODBC, not in
//! every run), so one handle
//! from `odbc_connect` is kept in a DuckDB variable of the export's
//! connection for the source's life and closed with it. The handle lives in
//! that one DuckDB connection: the server-side counts run on it before the
//! copy, not beside it.
//!
//! What the driver reports is all DuckDB knows of a value's type; which
//! (database, type) pairs arrive exact is proven per driver by the tests
//! (tests/it/odbc.rs) and everything else is refused ([`OdbcKnowledge`]).

use duckdb::Connection;

use super::connect::connect_error;
use super::exactness::{count_sql, DuckType, ResultCheck, SourceColumn, Treatment, TypeKnowledge};
use super::kind::{Facts, ServerCancelStatement, SourceType};
use super::settings::SourceSettings;
use crate::error::{Error, Result};
use crate::sql::sql_literal;
use crate::stages::Column;

pub(crate) struct Odbc;

/// The DuckDB variable that holds the ODBC connection handle.
const HANDLE: &str = "connector_odbc";

/// What a column of which database arrives as depends on the driver: the
/// pairs are [`OdbcKnowledge`]'s, chosen by the settings, not a constant.
const FACTS: Facts = Facts {
    names: &["odbc"],
    listed_names: &["odbc"],
    display_name: "ODBC",
    database_hint: "the connection string names it",
    extension: Some("odbc_scanner"),
    takes_connection_string: true,
    always_native: true,
    counts_alongside: false,
    ..Facts::FILE
};

impl SourceType for Odbc {
    fn facts(&self) -> &'static Facts {
        &FACTS
    }

    fn attach(&self, conn: &Connection, settings: &SourceSettings) -> Result<bool> {
        let string = settings.odbc_connection_string.as_ref().map(|s| s.expose()).unwrap_or_default();
        connect(conn, settings, string)
    }

    fn echoed(&self, settings: &SourceSettings) -> Vec<String> {
        settings.odbc_connection_string.iter().map(|s| s.expose().to_string()).collect()
    }

    fn pass_through(&self, native_query: &str) -> Option<String> {
        Some(query_sql(native_query))
    }

    fn close(&self, conn: &Connection) {
        close(conn);
    }

    fn server_cancel(&self) -> Option<&dyn ServerCancelStatement> {
        Some(self)
    }

    fn login_hint(&self, lower: &str) -> Option<&'static str> {
        // Any database may be behind the driver: a TLS word wins over the
        // login and database messages connect::login_hint tells apart.
        use super::connect::{TLS_IN_CONNECTION_STRING, TLS_MARKERS};
        driver_hint(lower).or_else(|| TLS_MARKERS.iter().any(|m| lower.contains(m)).then_some(TLS_IN_CONNECTION_STRING))
    }

    fn type_knowledge(&self, settings: &SourceSettings) -> Option<&dyn TypeKnowledge> {
        let string = settings.odbc_connection_string.as_ref().map(|s| s.expose()).unwrap_or_default();
        Some(knowledge(database_of(string)))
    }
}

/// DuckDB's interrupt does not reach a statement the driver waits on: the
/// statement is cancelled on the server, from a second ODBC connection
/// opened on the second DuckDB connection (the handle is per connection).
impl ServerCancelStatement for Odbc {
    fn cancel(
        &self,
        conn: &Connection,
        settings: &SourceSettings,
        _tag: &str,
        marker: &str,
    ) -> std::result::Result<usize, duckdb::Error> {
        let string = settings.odbc_connection_string.as_ref().map(|s| s.expose()).unwrap_or_default();
        let database = database_of(string);
        let find = match database {
            // The filter runs before the cancel (OFFSET 0 keeps the planner
            // from merging them: pg_cancel_backend must see only ours).
            Database::Postgres => {
                "SELECT pid::bigint AS pid FROM (SELECT pid FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND state = 'active' AND strpos(query, {marker}) > 0 OFFSET 0) AS ours \
                 WHERE pg_cancel_backend(pid)"
            }
            Database::Mariadb => {
                "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND LOCATE({marker}, INFO) > 0"
            }
            // Not known how to find the statement: it stops when the server is done.
            Database::SqlServer | Database::Other => return Ok(0),
        };
        // Opened once, on the first try; the process that was signalled ends
        // soon and with it this connection.
        let opened: Option<i64> = conn.query_row(&format!("SELECT getvariable('{HANDLE}')"), [], |r| r.get(0))?;
        if opened.is_none() {
            if let Err(e) = conn.execute(CONNECT, [string]) {
                // The driver's message repeats the connection string.
                log::warn!(
                    "cannot cancel the statement on the source server: {}",
                    cut_connection_string(&e.to_string())
                );
                return Ok(0);
            }
        }
        let found = find.replace("{marker}", &sql_literal(marker));
        let ids = conn.prepare(&query_sql(&found)).and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<std::result::Result<Vec<_>, _>>()
        });
        let ids = ids?;
        if database == Database::Mariadb {
            for id in &ids {
                // KILL returns no result set: the driver's complaint about that
                // comes after the server has done it.
                if let Err(e) = conn.execute_batch(&query_sql(&format!("KILL QUERY {id}"))) {
                    log::debug!("KILL QUERY {id}: {e}");
                }
            }
        }
        Ok(ids.len())
    }
}

/// The statement that opens the ODBC connection into [`HANDLE`]; the
/// connection string is its parameter, so no error can quote it as part of
/// the SQL.
const CONNECT: &str = "SET VARIABLE connector_odbc = odbc_connect(?)";

/// Opens the ODBC connection into [`HANDLE`].
pub(crate) fn connect(conn: &Connection, settings: &SourceSettings, connection_string: &str) -> Result<bool> {
    conn.execute(CONNECT, [connection_string]).map_err(|e| {
        let error = connect_error(settings, &e, connection_string);
        if driver_hint(&e.to_string().to_ascii_lowercase()).is_none() {
            return error;
        }
        // What the driver manager has, so the name can be compared.
        let known = installed(conn);
        let known = match known.as_slice() {
            [] => "the driver manager knows no ODBC driver".to_string(),
            names => format!("the drivers the driver manager knows: {}", names.join(", ")),
        };
        Error::new(error.kind(), format!("{}; {known}", error.message()))
    })?;
    read_only_session(conn, database_of(connection_string))?;
    Ok(true)
}

/// Makes the ODBC session read-only where the server can enforce it, as the
/// scanners' sessions are: a query is one SELECT, and a write hidden in it
/// (PostgreSQL's `WITH … AS (DELETE … RETURNING …)`, a function that
/// writes) is refused by the server. Other databases rely on the user's
/// privileges (the docs ask for a user that may only read).
fn read_only_session(conn: &Connection, database: Database) -> Result<()> {
    let failed = |e: duckdb::Error| {
        Error::new(
            crate::error::ErrorKind::SourceUnreachable,
            format!("cannot make the ODBC session read-only: {}", cut_connection_string(&e.to_string())),
        )
    };
    match database {
        // A SELECT, because odbc_query wants a result; for the session, not
        // only the transaction (psqlODBC commits each statement).
        Database::Postgres => conn
            .query_row(&query_sql("SELECT set_config('default_transaction_read_only', 'on', false)"), [], |_| Ok(()))
            .map_err(failed),
        Database::Mariadb => {
            // SET returns no result set, which odbc_query reports after the
            // server has done it: the variable says whether it took.
            if let Err(e) = conn.execute_batch(&query_sql("SET SESSION TRANSACTION READ ONLY")) {
                log::debug!("SET SESSION TRANSACTION READ ONLY: {}", cut_connection_string(&e.to_string()));
            }
            let read_only: i64 = conn
                .query_row(&query_sql("SELECT CAST(@@session.tx_read_only AS SIGNED)"), [], |r| r.get(0))
                .map_err(failed)?;
            match read_only {
                1 => Ok(()),
                _ => Err(Error::new(
                    crate::error::ErrorKind::SourceUnreachable,
                    "cannot make the ODBC session read-only: the server kept tx_read_only off",
                )),
            }
        }
        Database::SqlServer | Database::Other => Ok(()),
    }
}

/// The installed drivers' names (odbcinst.ini; on Windows the registry's).
fn installed(conn: &Connection) -> Vec<String> {
    let names = conn.prepare("SELECT description FROM odbc_list_drivers() ORDER BY 1").and_then(|mut stmt| {
        stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<std::result::Result<Vec<_>, _>>()
    });
    names.unwrap_or_else(|e| {
        log::debug!("listing the ODBC drivers: {e}");
        Vec::new()
    })
}

/// A statement the server runs, through the held handle.
pub(crate) fn query_sql(native_query: &str) -> String {
    format!("SELECT * FROM odbc_query(getvariable('{HANDLE}'), {})", sql_literal(native_query))
}

/// Closes the handle, if one was opened (a failed close only means the
/// process ends it).
pub(crate) fn close(conn: &Connection) {
    let sql = format!("SELECT odbc_close(getvariable('{HANDLE}')) WHERE getvariable('{HANDLE}') IS NOT NULL");
    match conn.execute_batch(&sql) {
        Ok(()) => {
            let _ = conn.execute_batch(&format!("RESET VARIABLE {HANDLE}"));
        }
        Err(e) => log::debug!("closing the ODBC connection: {e}"),
    }
}

/// What the connection string connects to, for messages: its driver or
/// DSN (never a credential).
pub(crate) fn target(settings: &SourceSettings) -> String {
    let string = settings.odbc_connection_string.as_ref().map(|s| s.expose()).unwrap_or_default();
    let attributes = attributes(string);
    let named = |wanted: &str| attributes.iter().find(|(key, _)| key == wanted).map(|(_, value)| value.clone());
    match (named("driver"), named("dsn")) {
        (Some(driver), _) => format!("DRIVER {driver}"),
        (None, Some(dsn)) => format!("DSN {dsn}"),
        (None, None) => "the connection string names no driver or DSN".to_string(),
    }
}

/// The extension repeats the connection string in its errors, rearranged
/// (keys upper-cased, some values masked): the whole part is cut out.
pub(crate) fn cut_connection_string(text: &str) -> String {
    const START: &str = "connection string: '";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(START) {
        out.push_str(&rest[..at + START.len()]);
        out.push('…');
        let after = &rest[at + START.len()..];
        // The string ends before the extension's next field; the last such
        // end, since a value may hold the same characters (cutting too much
        // is harmless).
        match after.rfind("', return:").or_else(|| after.rfind("', ")) {
            Some(end) => rest = &after[end..],
            None => {
                rest = "";
                out.push('\'');
            }
        }
    }
    out.push_str(rest);
    out
}

/// What to install when the driver manager cannot find or load the driver.
fn driver_hint(lower: &str) -> Option<&'static str> {
    const MISSING: [&str; 4] = [
        "can't open lib",
        "data source name not found",
        "specified driver could not be loaded",
        "driver's sqlallochandle on sql_handle_env failed",
    ];
    MISSING.iter().any(|m| lower.contains(m)).then_some(
        "the ODBC driver is not installed or not registered: install it (Debian: odbc-postgresql, odbc-mariadb, \
         tdsodbc for FreeTDS; SQL Server: Microsoft's msodbcsql18) and use the name `odbcinst -q -d` lists \
         (Windows: the ODBC Data Sources tool), or define the DSN in odbc.ini",
    )
}

/// The attributes of an ODBC connection string, keys lower-cased, values
/// without their `{…}` quoting (`}}` in it is one `}`).
pub(crate) fn attributes(connection_string: &str) -> Vec<(String, String)> {
    let mut attributes = Vec::new();
    let mut rest = connection_string;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim_start_matches(';').trim().to_ascii_lowercase();
        let (value, after) = match after.strip_prefix('{') {
            Some(braced) => {
                let mut value = String::new();
                let mut chars = braced.char_indices();
                let mut end = braced.len();
                while let Some((i, c)) = chars.next() {
                    if c == '}' {
                        if braced[i + 1..].starts_with('}') {
                            value.push('}');
                            chars.next();
                            continue;
                        }
                        end = i + 1;
                        break;
                    }
                    value.push(c);
                }
                let after = &braced[end.min(braced.len())..];
                (value, after.split_once(';').map_or("", |(_, r)| r))
            }
            None => match after.split_once(';') {
                Some((value, r)) => (value.to_string(), r),
                None => (after.to_string(), ""),
            },
        };
        attributes.push((key, value));
        rest = after;
    }
    attributes
}

/// Whether a connection-string attribute carries a credential.
pub(crate) fn is_secret_attribute(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "pwd" || ["password", "secret", "token", "key"].iter().any(|word| key.contains(word))
}

/// A value in ODBC's `{…}` quoting, `}` doubled: any character may appear
/// in it (`;`, `=`, quotes, spaces).
pub(crate) fn braced(value: &str) -> String {
    format!("{{{}}}", value.replace('}', "}}"))
}

/// The database behind a driver, by the driver's name (a DSN does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Database {
    /// psqlODBC.
    Postgres,
    /// MariaDB Connector/ODBC.
    Mariadb,
    /// Microsoft's ODBC Driver for SQL Server, or FreeTDS.
    SqlServer,
    /// Any other driver, or a DSN.
    Other,
}

pub(crate) fn database_of(connection_string: &str) -> Database {
    let driver = attributes(connection_string)
        .into_iter()
        .find(|(key, _)| key == "driver")
        .map(|(_, value)| value.to_ascii_lowercase())
        .unwrap_or_default();
    if driver.contains("postgres") || driver.contains("psqlodbc") {
        Database::Postgres
    } else if driver.contains("mariadb") || driver.contains("maodbc") {
        Database::Mariadb
    } else if driver.contains("sql server") || driver.contains("freetds") || driver.contains("tdsodbc") {
        Database::SqlServer
    } else {
        Database::Other
    }
}

/// What arrives exact through one driver.
pub(crate) struct OdbcKnowledge(Database);

static POSTGRES: OdbcKnowledge = OdbcKnowledge(Database::Postgres);
static MARIADB: OdbcKnowledge = OdbcKnowledge(Database::Mariadb);
static SQL_SERVER: OdbcKnowledge = OdbcKnowledge(Database::SqlServer);
static OTHER: OdbcKnowledge = OdbcKnowledge(Database::Other);

pub(crate) fn knowledge(database: Database) -> &'static OdbcKnowledge {
    match database {
        Database::Postgres => &POSTGRES,
        Database::Mariadb => &MARIADB,
        Database::SqlServer => &SQL_SERVER,
        Database::Other => &OTHER,
    }
}

/// The DuckDB types whose ODBC conversion is the same for every driver
/// (fixed-size integers and floats, character and binary data), proven
/// through psqlODBC and MariaDB Connector/ODBC.
const PLAIN: [&str; 14] = [
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "VARCHAR",
    "BLOB",
    "UUID",
];

/// MariaDB's zero date and a date with month or day 0 (legal with
/// `sql_mode=''`): neither is a date DuckDB holds.
const ZERO_OR_PARTIAL_DATE: &str = "(MONTH({}) = 0 OR DAYOFMONTH({}) = 0)";

/// A value in MariaDB's storage format of geometry: an SRID of 4 bytes,
/// then WKB in little-endian order (`01`) with a geometry type from 1 to 7.
const MARIADB_GEOMETRY_BYTES: &str = "(SUBSTRING(CAST({} AS BINARY), 5, 1) = X'01' \
     AND ASCII(SUBSTRING(CAST({} AS BINARY), 6, 1)) BETWEEN 1 AND 7 \
     AND SUBSTRING(CAST({} AS BINARY), 7, 3) = X'000000')";

/// The precision and scale of `DECIMAL(p,s)`.
fn decimal(duckdb_type: &str) -> Option<(u32, u32)> {
    let inner = duckdb_type.strip_prefix("DECIMAL(")?.strip_suffix(')')?;
    let (p, s) = inner.split_once(',')?;
    Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
}

impl OdbcKnowledge {
    /// The cast to text in the database's own SQL.
    fn as_text(&self, name: &str) -> String {
        match self.0 {
            Database::Postgres => format!("CAST({name} AS text)"),
            Database::Mariadb => format!("CAST({name} AS CHAR)"),
            Database::SqlServer => format!("CAST({name} AS nvarchar(max))"),
            Database::Other => format!("CAST({name} AS VARCHAR(<length>))"),
        }
    }

    fn driver(&self) -> &'static str {
        match self.0 {
            Database::Postgres => "psqlODBC",
            Database::Mariadb => "MariaDB Connector/ODBC",
            Database::SqlServer => "the SQL Server driver",
            Database::Other => "this ODBC driver",
        }
    }

    fn lossy(&self, what: String, fix: String) -> Treatment {
        Treatment::Lossy { what, fix, arrives_as: "" }
    }

    /// A DECIMAL as the driver reports it.
    fn decimal(&self, name: &str, p: u32, s: u32) -> Vec<Treatment> {
        let text = self.as_text(name);
        match self.0 {
            // psqlODBC reports a numeric without precision as (28,6) and hands
            // its values over with their own scale: 1.5 arrives as 0.000015.
            Database::Postgres if (p, s) == (28, 6) => vec![self.lossy(
                "psqlODBC reports a numeric without precision as DECIMAL(28,6) and its values arrive scaled wrongly \
                 (1.5 as 0.000015)"
                    .into(),
                format!("write CAST({name} AS numeric(<precision>, <scale>)) with a precision up to 37 and not (28,6), or {text}"),
            )],
            // Wider types are cut to DuckDB's 38 digits, and values beyond arrive wrong.
            Database::Postgres | Database::Mariadb if p >= 38 => vec![self.lossy(
                format!(
                    "a decimal of 38 or more digits (reported as DECIMAL({p},{s})) may be wider than DuckDB's 38, and \
                     its values arrive wrong"
                ),
                format!(
                    "write CAST({name} AS {}(<precision>, {s})) with a precision up to 37, or {text}",
                    if self.0 == Database::Postgres { "numeric" } else { "DECIMAL" }
                ),
            )],
            Database::Postgres | Database::Mariadb => Vec::new(),
            _ => vec![self.unproven(name, &format!("DECIMAL({p},{s})"))],
        }
    }

    fn unproven(&self, name: &str, duckdb_type: &str) -> Treatment {
        let (what, fix) = match self.0 {
            Database::SqlServer => (
                format!(
                    "SQL Server's values through ODBC are not yet proven exact against a real server ({duckdb_type}; \
                     see docs/type-mapping.md for what Microsoft documents about each type)"
                ),
                format!(
                    "compare the column's values with the server's once, then list {name} in ACCEPT_LOSS_COLUMNS; \
                     or write {} to upload its text",
                    self.as_text(name)
                ),
            ),
            _ => (
                format!("{duckdb_type} through {} is not proven exact (see docs/type-mapping.md)", self.driver()),
                format!("write {} to upload its text", self.as_text(name)),
            ),
        };
        self.lossy(what, fix)
    }
}

impl TypeKnowledge for OdbcKnowledge {
    fn catalog_queries(&self, _names: &[String]) -> Vec<String> {
        // Judged by the result (its reported types and the server's
        // description), never by table names: the query is any SQL.
        Vec::new()
    }

    fn treat(&self, column: &SourceColumn, result_type: Option<&str>, _native: bool) -> Vec<Treatment> {
        if self.0 != Database::Postgres || !column.from_result {
            return Vec::new();
        }
        let name = &column.name;
        let t = column.type_name.as_str();
        let result = result_type.map(str::to_ascii_uppercase).unwrap_or_default();
        if t == "money" {
            vec![self.lossy(
                "psqlODBC hands money over as a floating-point number, which holds most amounts in cents only \
                 approximately"
                    .into(),
                format!("write CAST({name} AS numeric(20,2))"),
            )]
        } else if t == "boolean" && result != "BOOLEAN" {
            vec![self.lossy(
                "psqlODBC hands booleans over as the text 1/0 (BoolsAsChar)".into(),
                format!("add BoolsAsChar=0 to SOURCE_ODBC_CONNECTION_STRING, or write CAST({name} AS integer)"),
            )]
        } else if t.ends_with("with time zone") {
            vec![self.lossy(
                format!("{t} arrives as the wall time of the session's time zone, without the zone"),
                format!("write {name} AT TIME ZONE 'UTC' to upload UTC wall time, or {}", self.as_text(name)),
            )]
        } else {
            Vec::new()
        }
    }

    fn result_treatments(&self, column: &Column) -> Vec<Treatment> {
        let name = &column.name;
        let t = column.type_name.to_ascii_uppercase();
        if self.0 == Database::SqlServer {
            // Nothing of SQL Server is proven here (no server could run).
            return vec![self.unproven(name, &t)];
        }
        if let Some((p, s)) = decimal(&t) {
            return self.decimal(name, p, s);
        }
        if PLAIN.contains(&t.as_str()) {
            return Vec::new();
        }
        match (self.0, t.as_str()) {
            (_, "TIME") => vec![self.lossy(
                "time arrives without its fractions of a second (and MariaDB's times beyond 24 hours do not fit)"
                    .into(),
                format!("write {} to upload its text", self.as_text(name)),
            )],
            // Infinity and zero dates: counted on the server (result_checks).
            (Database::Postgres | Database::Mariadb, "DATE" | "TIMESTAMP") => Vec::new(),
            _ => vec![self.unproven(name, &t)],
        }
    }

    fn needs_description(&self) -> bool {
        // Booleans and time zones show only in PostgreSQL's description.
        self.0 == Database::Postgres
    }

    fn describe_result(&self, query: &str, names: &[String]) -> Option<String> {
        if self.0 != Database::Postgres || names.is_empty() {
            return None;
        }
        // Joined on false, the query is planned but never run; pg_typeof of
        // its NULL columns is their declared type, and a domain's is followed
        // down to its base type (what the driver sees).
        let aliases: Vec<String> = (1..=names.len()).map(|i| format!("c{i}")).collect();
        let types: Vec<String> = aliases.iter().map(|a| format!("pg_typeof(q.{a})::oid")).collect();
        Some(format!(
            "WITH RECURSIVE declared AS (SELECT u.pos, u.typid \
             FROM (SELECT 1) AS one LEFT JOIN ({query}\n) AS q({}) ON false \
             CROSS JOIN LATERAL unnest(ARRAY[{}]::oid[]) WITH ORDINALITY AS u(typid, pos)), \
             base(pos, typid) AS (SELECT pos, typid FROM declared UNION ALL \
             SELECT b.pos, t.typbasetype FROM base AS b JOIN pg_type AS t ON t.oid = b.typid WHERE t.typtype = 'd') \
             SELECT b.pos::bigint AS pos, format_type(b.typid, -1)::text AS type_name, NULL::text AS leaves \
             FROM base AS b JOIN pg_type AS t ON t.oid = b.typid WHERE t.typtype <> 'd'",
            aliases.join(", "),
            types.join(", ")
        ))
    }

    fn result_checks(&self, duckdb_type: &DuckType) -> Vec<ResultCheck> {
        let DuckType::Leaf(t) = duckdb_type else {
            return Vec::new();
        };
        let t = t.to_ascii_uppercase();
        match (self.0, t.as_str()) {
            (Database::Postgres, _) if t.starts_with("DECIMAL") => {
                let scale = decimal(&t).map_or(0, |(_, s)| s);
                vec![
                    // numeric(p,s) may hold NaN and ±Infinity, which no DECIMAL holds.
                    ResultCheck {
                        condition: "{}::text IN ('NaN', 'Infinity', '-Infinity')".into(),
                        what: "NaN and ±Infinity are not decimals".into(),
                        fix: "write NULLIF(<column>, 'NaN') to upload NaN as NULL, or CAST(<column> AS text)".into(),
                    },
                    // psqlODBC hands a value over with its own scale, read as the
                    // reported one: numeric(5,-2)'s 100 would arrive as 0.001.
                    ResultCheck {
                        condition: format!(
                            "{{}}::text NOT IN ('NaN', 'Infinity', '-Infinity') AND scale({{}}) <> {scale}"
                        ),
                        what: format!(
                            "values with other than {scale} digits after the point would arrive shifted (psqlODBC \
                             reports the column as {t} and hands each value over with its own scale)"
                        ),
                        fix: format!(
                            "write CAST(<column> AS numeric(<precision>, {scale})) with a precision up to 37, or \
                             CAST(<column> AS text)"
                        ),
                    },
                ]
            }
            // psqlODBC gives ±infinity as today's date, a BC date as the same
            // date AD, and a year after 9999 cut to its first four digits.
            (Database::Postgres, "DATE" | "TIMESTAMP") => vec![ResultCheck {
                condition: "(NOT isfinite({}) OR extract(year FROM {}) NOT BETWEEN 1 AND 9999)".into(),
                what: "±infinity, dates before Christ and years after 9999 would arrive as other dates".into(),
                fix: "write NULLIF(<column>, 'infinity') (and '-infinity') to upload infinity as NULL, or \
                      CAST(<column> AS text)"
                    .into(),
            }],
            (Database::Mariadb, "DATE" | "TIMESTAMP") => vec![ResultCheck {
                condition: ZERO_OR_PARTIAL_DATE.into(),
                what: "zero dates (0000-00-00) and dates with month or day 0 are not dates DuckDB holds".into(),
                fix: "write NULLIF(<column>, '0000-00-00') to upload zero dates as NULL, or CAST(<column> AS CHAR)"
                    .into(),
            }],
            // The driver's text ends at a NUL character.
            (Database::Mariadb, "VARCHAR") => vec![ResultCheck {
                condition: "INSTR({}, CHAR(0)) > 0".into(),
                what: "text with a NUL character would arrive cut off before it".into(),
                fix: "write REPLACE(<column>, CHAR(0), '') to upload it without the NULs, or HEX(<column>)".into(),
            }],
            // MariaDB's geometry reaches DuckDB as a plain BLOB of its own
            // storage format (4 bytes of SRID, then little-endian WKB); the
            // driver's type does not tell it from binary data, its bytes do.
            (Database::Mariadb, "BLOB") => vec![ResultCheck {
                condition: MARIADB_GEOMETRY_BYTES.into(),
                what: "MariaDB geometry would arrive in MariaDB's own storage format (SRID and WKB), not as \
                       standard WKB"
                    .into(),
                fix: "write ST_AsBinary(<column>) AS <column> (and ST_SRID(<column>) in a column of its own) to \
                      upload standard WKB, or ST_AsText(<column>)"
                    .into(),
            }],
            _ => Vec::new(),
        }
    }

    fn count_query(&self, from: &str, conditions: &[String]) -> String {
        match self.0 {
            Database::Mariadb => count_sql(from, conditions, "SIGNED"),
            _ => count_sql(from, conditions, "BIGINT"),
        }
    }

    fn quote(&self, name: &str) -> String {
        match self.0 {
            Database::Mariadb => format!("`{}`", name.replace('`', "``")),
            Database::SqlServer => format!("[{}]", name.replace(']', "]]")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_string_attributes_are_read_with_their_quoting() {
        let attributes = attributes("Driver={PostgreSQL Unicode};Server=db;PWD={a;b}}c=d};UID=u;Empty=");
        assert_eq!(
            attributes,
            vec![
                ("driver".to_string(), "PostgreSQL Unicode".to_string()),
                ("server".into(), "db".into()),
                ("pwd".into(), "a;b}c=d".into()),
                ("uid".into(), "u".into()),
                ("empty".into(), "".into()),
            ]
        );
        assert_eq!(database_of("DRIVER={MariaDB Unicode};SERVER=x"), Database::Mariadb);
        assert_eq!(database_of("Driver=FreeTDS;Server=x"), Database::SqlServer);
        assert_eq!(database_of("DSN=finance"), Database::Other);
    }

    #[test]
    fn the_handle_is_opened_into_the_variable_the_queries_read() {
        assert!(CONNECT.starts_with(&format!("SET VARIABLE {HANDLE} = ")), "{CONNECT}");
        assert!(query_sql("SELECT 1").contains(&format!("getvariable('{HANDLE}')")));
    }

    #[test]
    fn a_braced_value_round_trips() {
        for value in ["plain", "a}b", "x;y=z", "{", "}}", "'\\ @="] {
            let string = format!("PWD={};UID=u", braced(value));
            assert_eq!(attributes(&string)[0].1, value, "{string}");
        }
    }

    #[test]
    fn the_echoed_connection_string_is_cut_out() {
        let message = "Invalid Input Error: 'SQLDriverConnect' failed, connection string: 'Driver={x};PWD=***;UID=u;Pwd=s3cr3t;', return: -1, diagnostics: 'IM002(0): [unixODBC]Data source name not found'";
        let cut = cut_connection_string(message);
        assert!(!cut.contains("s3cr3t") && !cut.contains("UID"), "{cut}");
        assert!(cut.contains("connection string: '…', return: -1, diagnostics: 'IM002"), "{cut}");
        assert_eq!(cut_connection_string("no string here"), "no string here");
        let tricky = "connection string: 'PWD=a', return: b;UID=u', return: -1, diagnostics: 'x'";
        assert_eq!(cut_connection_string(tricky), "connection string: '…', return: -1, diagnostics: 'x'");
    }

    #[test]
    fn decimals_are_refused_where_the_driver_loses_them() {
        let column = |t: &str| Column { name: "n".into(), type_name: t.into() };
        let refused = |k: &OdbcKnowledge, t: &str| !k.result_treatments(&column(t)).is_empty();
        assert!(refused(&POSTGRES, "DECIMAL(28,6)"));
        assert!(refused(&POSTGRES, "DECIMAL(38,5)"));
        assert!(!refused(&POSTGRES, "DECIMAL(10,2)"));
        assert!(refused(&MARIADB, "DECIMAL(38,30)"));
        assert!(!refused(&MARIADB, "DECIMAL(28,6)"));
        assert!(refused(&OTHER, "DECIMAL(10,2)"));
        assert!(refused(&POSTGRES, "TIME") && refused(&MARIADB, "TIME"));
        assert!(!refused(&POSTGRES, "DATE") && refused(&OTHER, "DATE"));
        assert!(!refused(&OTHER, "BIGINT") && refused(&SQL_SERVER, "BIGINT"));
        assert!(refused(&POSTGRES, "INTERVAL"));
    }
}
