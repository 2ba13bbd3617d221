//! Pseudonymisation (`PSEUDONYMIZE_COLUMNS`): listed result columns are
//! replaced by `HMAC-SHA256(key, canonical text of the value)` as 64
//! lowercase hex characters, inside the export's COPY, before a byte of the
//! Parquet file is written. NULL stays NULL.
//!
//! - `canonical_text`: the one definition of a value's canonical text per
//!   DuckDB type (what anyone holding the key hashes to reproduce a
//!   pseudonym; docs/pseudonymisation.md documents it), and the types that
//!   are refused;
//! - `Plan`: the listed columns matched against the query's result (a name
//!   not in it, or a refused type, is a configuration error, exit 3) and the
//!   select list that applies them;
//! - `register`: the scalar function, registered from Rust with the key as
//!   its state, so the key never appears in SQL text;
//! - `personal_looking`: result columns whose names look like personal
//!   data, for `connector check`'s warning.

pub mod settings;

use duckdb::core::{DataChunkHandle, Inserter, LogicalTypeId};
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use duckdb::Connection;
use hmac::{KeyInit, Mac};

use crate::error::{Error, ErrorKind, Result};
use crate::sql::sql_identifier;
use crate::stages::Column;
use settings::{Pseudonymization, PSEUDONYMIZE_COLUMNS};

/// The name of the registered scalar function in the COPY's select list.
const FUNCTION: &str = "connector_pseudonym";

/// The reset variant keeps the keyed state, so one instance computes a whole batch.
type HmacSha256 = hmac::HmacReset<sha2::Sha256>;

/// The canonical text of a column's values as a DuckDB expression over `{}`
/// (the quoted column), or why the type has none.
///
/// | DuckDB type | canonical text |
/// | --- | --- |
/// | integers (any width, signed or not) | plain decimal: `42`, `-7` |
/// | DECIMAL | plain decimal without trailing fraction zeros: `12.5`, `3` (`12.50`, `3.00`) |
/// | VARCHAR, JSON, ENUM | the text as stored (no trimming, no case or Unicode normalisation) |
/// | UUID | lowercase with hyphens |
/// | DATE | `YYYY-MM-DD` |
/// | TIME | `HH:MM:SS`, a fraction of a second only when not zero, without trailing zeros |
/// | TIMESTAMP (any precision) | `YYYY-MM-DD HH:MM:SS[.fraction]` as for TIME |
/// | TIMESTAMP WITH TIME ZONE | the instant in UTC as TIMESTAMP, then `+00` |
/// | BOOLEAN | `true`, `false` |
/// | BLOB | the bytes as lowercase hex |
/// | BIT | the bits as `0` and `1` |
///
/// Refused: FLOAT / DOUBLE (their text is not the same value from one source
/// to the next), INTERVAL, TIME WITH TIME ZONE, nested types (LIST, ARRAY,
/// STRUCT, MAP, UNION) and GEOMETRY.
pub(crate) fn canonical_text(type_name: &str) -> std::result::Result<&'static str, String> {
    let t = type_name.trim().to_ascii_uppercase();
    let base = t.split('(').next().unwrap_or(&t).trim();
    const AS_TEXT: &str = "CAST({} AS VARCHAR)";
    if t.ends_with(']') || ["STRUCT", "MAP", "UNION", "LIST"].contains(&base) {
        return Err(format!(
            "a nested type ({type_name}) has no canonical text; select the scalar fields to pseudonymise \
             on their own (e.g. s.person_id AS person_id)"
        ));
    }
    match base {
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "HUGEINT" | "UTINYINT" | "USMALLINT" | "UINTEGER"
        | "UBIGINT" | "UHUGEINT" | "BIGNUM" | "VARINT" => Ok(AS_TEXT),
        // DuckDB writes a DECIMAL with all its scale's digits: cut the zeros at
        // the end of the fraction, then a point left alone.
        "DECIMAL" | "NUMERIC" if has_fraction(&t) => Ok("rtrim(rtrim(CAST({} AS VARCHAR), '0'), '.')"),
        "DECIMAL" | "NUMERIC" => Ok(AS_TEXT),
        "VARCHAR" => Ok("{}"),
        "JSON" | "ENUM" | "UUID" | "DATE" | "BOOLEAN" | "BIT" => Ok(AS_TEXT),
        "TIME" | "TIME_NS" | "TIMESTAMP" | "TIMESTAMP_S" | "TIMESTAMP_MS" | "TIMESTAMP_NS" => Ok(AS_TEXT),
        "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" => {
            Ok("CASE WHEN isfinite({}) THEN CAST(timezone('UTC', {}) AS VARCHAR) || '+00' ELSE CAST({} AS VARCHAR) END")
        }
        "BLOB" => Ok("lower(hex({}))"),
        "FLOAT" | "REAL" | "DOUBLE" => Err(format!(
            "a floating-point number ({type_name}) has no canonical text that is the same from every source; \
             cast it in the query to the DECIMAL(p,s) it means, or to text"
        )),
        "GEOMETRY" => Err(format!(
            "a geometry ({type_name}) has no canonical text; pseudonymise an identifier of the object instead"
        )),
        _ => Err(format!(
            "the type {type_name} has no canonical text; cast it in the query to text (VARCHAR), \
             whose value as stored is then pseudonymised"
        )),
    }
}

/// Whether `DECIMAL(p,s)` has a scale above 0 (`DECIMAL` alone: DuckDB's
/// default scale, 3).
fn has_fraction(decimal: &str) -> bool {
    match decimal.split_once(',') {
        Some((_, scale)) => scale.trim_end_matches(')').trim().parse::<u32>().map_or(true, |s| s > 0),
        None => !decimal.contains('('),
    }
}

/// What the export does about pseudonyms, decided from the result's columns
/// before the export runs.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Result column → the canonical-text expression with the column filled in.
    columns: Vec<(String, String)>,
}

impl Plan {
    /// Matches the listed columns (case-insensitively, as DuckDB does) with
    /// the result's. A name not in the result, or a type without a canonical
    /// text, is a configuration error naming every such column.
    pub(crate) fn new(settings: Option<&Pseudonymization>, result: &[Column]) -> Result<Plan> {
        let Some(settings) = settings else {
            return Ok(Plan::default());
        };
        let mut problems = Vec::new();
        let mut columns = Vec::new();
        for listed in &settings.columns {
            match result.iter().find(|c| c.name.eq_ignore_ascii_case(listed)) {
                None => problems.push(format!("column {listed} is not in the query's result")),
                Some(column) => match canonical_text(&column.type_name) {
                    Ok(expression) => {
                        if !columns.iter().any(|(name, _)| name == &column.name) {
                            let expression = expression.replace("{}", &sql_identifier(&column.name));
                            columns.push((column.name.clone(), expression));
                        }
                    }
                    Err(why) => problems.push(format!("column {}: {why}", column.name)),
                },
            }
        }
        if !problems.is_empty() {
            let names: Vec<&str> = result.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::config(format!(
                "{}: {}; nothing was exported (the result's columns: {})",
                PSEUDONYMIZE_COLUMNS.name,
                problems.join("; "),
                names.join(", ")
            )));
        }
        Ok(Plan { columns })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The pseudonymised columns, as the result names them.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// `result` without the pseudonymised columns: what the check of
    /// exactness looks at (a pseudonym replaces the value on purpose).
    pub(crate) fn untouched(&self, result: &[Column]) -> Vec<Column> {
        result.iter().filter(|c| !self.columns.iter().any(|(name, _)| name == &c.name)).cloned().collect()
    }

    /// The query with the pseudonyms in place of the listed columns (same
    /// names, same order; VARCHAR).
    pub(crate) fn select(&self, query: &str) -> String {
        let replacements: Vec<(&str, String)> =
            self.columns.iter().map(|(name, canonical)| (name.as_str(), format!("{FUNCTION}({canonical})"))).collect();
        crate::sql::replace_columns(query, &replacements, "pseudonymized_source")
    }
}

/// Registers the pseudonym function on `conn` with the key as its state
/// (DuckDB's catalog holds a copy of the keyed HMAC, not of the key's text).
pub(crate) fn register(conn: &Connection, settings: &Pseudonymization) -> Result<()> {
    let keyed = Keyed::new(settings.key.expose().as_bytes());
    conn.register_scalar_function_with_state::<PseudonymFunction>(FUNCTION, &keyed)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot register the pseudonym function: {e}")))
}

/// HMAC-SHA256 with the key already absorbed (no Debug: nothing of the key
/// can be printed).
#[derive(Clone)]
struct Keyed(HmacSha256);

impl Keyed {
    fn new(key: &[u8]) -> Keyed {
        // HMAC takes keys of any length; the settings refuse short ones.
        Keyed(HmacSha256::new_from_slice(key).expect("HMAC accepts keys of every length"))
    }

    /// The pseudonym of `text`: 64 lowercase hex characters.
    #[cfg(test)]
    fn pseudonym(&self, text: &[u8]) -> [u8; 64] {
        self.hasher().pseudonym(text)
    }

    /// A keyed HMAC to compute many pseudonyms with, one after another.
    fn hasher(&self) -> Hasher {
        Hasher(self.0.clone())
    }
}

/// The keyed HMAC of one batch of values: after each value it is reset to
/// the keyed state, which is cheaper than a fresh copy of [`Keyed`] per value.
struct Hasher(HmacSha256);

impl Hasher {
    /// The pseudonym of `text`: 64 lowercase hex characters.
    fn pseudonym(&mut self, text: &[u8]) -> [u8; 64] {
        self.0.update(text);
        let digest = self.0.finalize_reset().into_bytes();
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
        }
        hex
    }
}

/// Each byte's two lowercase hex digits, so that a byte is one lookup.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0x0f]];
        byte += 1;
    }
    pairs
};

/// The scalar function `connector_pseudonym(VARCHAR) → VARCHAR`.
struct PseudonymFunction;

impl VScalar for PseudonymFunction {
    type State = Keyed;

    fn invoke(
        keyed: &Keyed,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let rows = input.len();
        // DuckDB hands a scalar function flat vectors.
        let values = input.flat_vector(0);
        let texts = unsafe { values.as_slice_with_len::<duckdb::ffi::duckdb_string_t>(rows) };
        let mut out = output.flat_vector();
        let mut hasher = keyed.hasher();
        for (row, text) in texts.iter().enumerate() {
            if values.row_is_null(row as u64) {
                out.set_null(row);
                continue;
            }
            // A copy: a short string lives inside the struct itself.
            let mut text = *text;
            let pseudonym = hasher.pseudonym(duckdb::types::DuckString::new(&mut text).as_bytes());
            out.insert(row, &pseudonym[..]);
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::exact(vec![LogicalTypeId::Varchar.into()], LogicalTypeId::Varchar.into())]
    }
}

/// Words that make a column name look like personal data, English and
/// German (docs/pseudonymisation.md lists them): a column is flagged when one
/// of its words (split at `_`, `-`, spaces, digits and lower-to-upper case
/// changes) is one of these.
pub(crate) const PERSONAL_WORDS: &[&str] = &[
    // English
    "name",
    "firstname",
    "lastname",
    "surname",
    "forename",
    "fullname",
    "birth",
    "birthdate",
    "birthday",
    "dob",
    "email",
    "mail",
    "phone",
    "telephone",
    "mobile",
    "address",
    "street",
    "iban",
    "ssn",
    "passport",
    "username",
    // German
    "vorname",
    "nachname",
    "familienname",
    "geburtsname",
    "geburtsdatum",
    "geburtstag",
    "geburtsort",
    "telefon",
    "telefonnummer",
    "handy",
    "mobilnummer",
    "adresse",
    "anschrift",
    "strasse",
    "straße",
    "hausnummer",
    "steuernummer",
    "steuerid",
    "sozialversicherungsnummer",
    "ausweisnummer",
    "personalnummer",
];

/// The result columns whose names look like personal data and that are not
/// pseudonymised, each with the word that matched.
pub(crate) fn personal_looking<'a>(result: &'a [Column], plan: &Plan) -> Vec<(&'a str, &'static str)> {
    let pseudonymized = plan.names();
    result
        .iter()
        .filter(|c| !pseudonymized.contains(&c.name.as_str()))
        .filter_map(|c| {
            let words = words(&c.name);
            let hit = PERSONAL_WORDS.iter().find(|w| words.iter().any(|word| word == *w))?;
            Some((c.name.as_str(), *hit))
        })
        .collect()
}

/// A column name's words, lower-cased: `firstName` → first, name;
/// `E-Mail_Adresse` → e, mail, adresse.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphabetic() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-for-the-unit-tests-0123456789abcdef";

    fn column(name: &str, type_name: &str) -> Column {
        Column { name: name.into(), type_name: type_name.into() }
    }

    /// Each value's canonical text as DuckDB computes it from a value of
    /// that type (the expressions run, not just compared as strings).
    #[test]
    fn canonical_texts() {
        let conn = Connection::open_in_memory().unwrap();
        for (value, expected) in [
            ("42::INTEGER", "42"),
            ("-7::TINYINT", "-7"),
            ("9223372036854775807::BIGINT", "9223372036854775807"),
            ("18446744073709551615::UBIGINT", "18446744073709551615"),
            ("-170141183460469231731687303715884105727::HUGEINT", "-170141183460469231731687303715884105727"),
            ("12.50::DECIMAL(10,2)", "12.5"),
            ("3.00::DECIMAL(10,2)", "3"),
            ("100.00::DECIMAL(10,2)", "100"),
            ("-0.50::DECIMAL(4,2)", "-0.5"),
            ("0.00::DECIMAL(4,2)", "0"),
            ("120::DECIMAL(10,0)", "120"),
            ("1234567890123456789012345.0000000001::DECIMAL(38,10)", "1234567890123456789012345.0000000001"),
            ("2.5::DECIMAL", "2.5"),
            ("'  Müller 🙂 '::VARCHAR", "  Müller 🙂 "),
            ("'{\"a\": 1}'::JSON", "{\"a\": 1}"),
            ("'4E3F0D3C-1111-4222-8333-444455556666'::UUID", "4e3f0d3c-1111-4222-8333-444455556666"),
            ("DATE '1987-06-05'", "1987-06-05"),
            ("TIME '07:08:09'", "07:08:09"),
            ("TIME '07:08:09.120'", "07:08:09.12"),
            ("TIMESTAMP '2024-01-02 03:04:05'", "2024-01-02 03:04:05"),
            ("TIMESTAMP '2024-01-02 03:04:05.500'", "2024-01-02 03:04:05.5"),
            ("TIMESTAMP_S '2024-01-02 03:04:05'", "2024-01-02 03:04:05"),
            ("TIMESTAMP_MS '2024-01-02 03:04:05.123'", "2024-01-02 03:04:05.123"),
            ("TIMESTAMP_NS '2024-01-02 03:04:05.123456789'", "2024-01-02 03:04:05.123456789"),
            ("TIMESTAMPTZ '2024-01-02 03:04:05.25+02'", "2024-01-02 01:04:05.25+00"),
            ("TRUE", "true"),
            ("FALSE", "false"),
            ("'\\xAA\\x00ab'::BLOB", "aa006162"),
            ("'1011'::BIT", "1011"),
        ] {
            let type_name: String = conn.query_row(&format!("SELECT typeof({value})"), [], |r| r.get(0)).unwrap();
            let expression = canonical_text(&type_name).unwrap_or_else(|e| panic!("{value}: {e}"));
            let sql = format!("SELECT {} FROM (SELECT {value} AS v)", expression.replace("{}", "v"));
            let text: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(text, expected, "{value} ({type_name})");
        }
        // Whatever TimeZone the session has: UTC.
        conn.execute_batch("SET TimeZone = 'America/New_York'").unwrap();
        let sql =
            canonical_text("TIMESTAMP WITH TIME ZONE").unwrap().replace("{}", "TIMESTAMPTZ '2024-01-02 03:04:05+02'");
        let text: String = conn.query_row(&format!("SELECT {sql}"), [], |r| r.get(0)).unwrap();
        assert_eq!(text, "2024-01-02 01:04:05+00");
    }

    #[test]
    fn types_without_a_canonical_text_are_refused_with_the_reason() {
        for (type_name, says) in [
            ("INTEGER[]", "nested"),
            ("VARCHAR[3]", "nested"),
            ("STRUCT(a INTEGER)", "nested"),
            ("MAP(VARCHAR, INTEGER)", "nested"),
            ("UNION(i INTEGER, s VARCHAR)", "nested"),
            ("GEOMETRY", "geometry"),
            ("GEOMETRY('EPSG:25832')", "geometry"),
            ("DOUBLE", "floating-point"),
            ("FLOAT", "floating-point"),
            ("INTERVAL", "cast it in the query to text"),
            ("TIME WITH TIME ZONE", "cast it in the query to text"),
        ] {
            let why = canonical_text(type_name).unwrap_err();
            assert!(why.contains(says), "{type_name}: {why}");
        }
    }

    #[test]
    fn the_pseudonym_is_hmac_sha256_in_lowercase_hex() {
        // RFC 4231, test case 2: key "Jefe".
        let keyed = Keyed::new(b"Jefe");
        assert_eq!(
            std::str::from_utf8(&keyed.pseudonym(b"what do ya want for nothing?")).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // One hasher for a whole batch: each value's pseudonym is its own, whatever came before.
        let mut hasher = keyed.hasher();
        for text in [&b""[..], b"4711", b"what do ya want for nothing?", b"what do ya want for nothing?"] {
            assert_eq!(hasher.pseudonym(text), Keyed::new(b"Jefe").pseudonym(text), "{text:?}");
        }
    }

    #[test]
    fn the_function_replaces_values_and_keeps_nulls() {
        let conn = Connection::open_in_memory().unwrap();
        let settings = Pseudonymization { columns: vec!["v".into()], key: crate::secret::Secret::new(KEY) };
        register(&conn, &settings).unwrap();
        let plan = Plan::new(Some(&settings), &[column("v", "VARCHAR"), column("n", "INTEGER")]).unwrap();
        let sql = plan.select("SELECT * FROM (VALUES ('a', 1), (NULL, 2), ('a', 3)) AS t(v, n)");
        assert!(!sql.contains(KEY), "{sql}");
        let mut stmt = conn.prepare(&sql).unwrap();
        let rows: Vec<(Option<String>, i32)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect();
        let a = std::str::from_utf8(&Keyed::new(KEY.as_bytes()).pseudonym(b"a")).unwrap().to_string();
        assert_eq!(rows, [(Some(a.clone()), 1), (None, 2), (Some(a), 3)]);
    }

    #[test]
    fn listed_columns_must_be_in_the_result() {
        let settings = Pseudonymization {
            columns: vec!["Person_ID".into(), "emial".into(), "tags".into()],
            key: crate::secret::Secret::new(KEY),
        };
        let result = [column("person_id", "BIGINT"), column("email", "VARCHAR"), column("tags", "VARCHAR[]")];
        let err = Plan::new(Some(&settings), &result).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let message = err.message();
        assert!(
            message.starts_with(
                "PSEUDONYMIZE_COLUMNS: column emial is not in the query's result; column tags: a nested type"
            ),
            "{message}"
        );
        assert!(message.ends_with("(the result's columns: person_id, email, tags)"), "{message}");
        let settings = Pseudonymization { columns: vec!["PERSON_ID".into()], ..settings };
        let plan = Plan::new(Some(&settings), &result).unwrap();
        assert_eq!(plan.names(), ["person_id"]);
        assert_eq!(plan.untouched(&result), result[1..].to_vec());
    }

    #[test]
    fn personal_looking_names() {
        let result: Vec<Column> = [
            "Vorname",
            "familienname",
            "firstName",
            "E-Mail",
            "geburtsdatum",
            "date_of_birth",
            "Straße",
            "iban",
            "telefon_privat",
            "person_id",
            "amount",
            "created_at",
            "district",
        ]
        .iter()
        .map(|n| column(n, "VARCHAR"))
        .collect();
        let settings = Pseudonymization { columns: vec!["iban".into()], key: crate::secret::Secret::new(KEY) };
        let plan = Plan::new(Some(&settings), &result).unwrap();
        let flagged: Vec<&str> = personal_looking(&result, &plan).into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            flagged,
            [
                "Vorname",
                "familienname",
                "firstName",
                "E-Mail",
                "geburtsdatum",
                "date_of_birth",
                "Straße",
                "telefon_privat"
            ]
        );
    }
}
