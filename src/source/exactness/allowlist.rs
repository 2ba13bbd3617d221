//! The allowlist: the DuckDB types that Parquet holds exactly, and the
//! decision for a result column, walked through LIST, ARRAY, STRUCT, MAP and
//! UNION down to the leaves. A leaf that is not on the list is refused; a
//! container is exact only if every leaf in it is.
//!
//! This is the Parquet half of each (source type → DuckDB type → Parquet)
//! pair; the source half (what a kind's scanner makes of its types) is in
//! the kind's facts (`postgres.rs`, `mysql.rs`). `docs/type-mapping.md`'s
//! "Any source" table is checked against [`PARQUET`] by a test.

use super::{raise, Refusal};
use crate::sql::sql_identifier;
use crate::stages::Column;

/// A DuckDB type as `DESCRIBE` spells it, as a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DuckType {
    /// A type without element types, as spelled (`DECIMAL(10,2)`, `ENUM('a')`).
    Leaf(String),
    List(Box<DuckType>),
    /// A fixed-size array (`INTEGER[3]`): its element type and size.
    Array(Box<DuckType>, String),
    Struct(Vec<(String, DuckType)>),
    Map(Box<DuckType>, Box<DuckType>),
    Union(Vec<(String, DuckType)>),
}

impl DuckType {
    pub(crate) fn parse(text: &str) -> DuckType {
        let t = text.trim();
        if t.ends_with(']') {
            if let Some(open) = last_top_level(t, '[') {
                let size = t[open + 1..t.len() - 1].trim();
                let element = Box::new(DuckType::parse(&t[..open]));
                return if size.is_empty() { DuckType::List(element) } else { DuckType::Array(element, size.into()) };
            }
        }
        let upper = t.to_ascii_uppercase();
        if t.ends_with(')') {
            if let Some(body) = upper.strip_prefix("STRUCT(").map(|_| &t["STRUCT(".len()..t.len() - 1]) {
                return DuckType::Struct(fields(body));
            }
            if let Some(body) = upper.strip_prefix("UNION(").map(|_| &t["UNION(".len()..t.len() - 1]) {
                return DuckType::Union(fields(body));
            }
            if let Some(body) = upper.strip_prefix("MAP(").map(|_| &t["MAP(".len()..t.len() - 1]) {
                if let [key, value] = split_top_level(body).as_slice() {
                    return DuckType::Map(Box::new(DuckType::parse(key)), Box::new(DuckType::parse(value)));
                }
            }
        }
        DuckType::Leaf(t.to_string())
    }

    /// The type as DuckDB SQL spells it (for a cast).
    pub(crate) fn sql(&self) -> String {
        let fields = |f: &[(String, DuckType)]| {
            f.iter().map(|(n, t)| format!("{} {}", sql_identifier(n), t.sql())).collect::<Vec<_>>().join(", ")
        };
        match self {
            DuckType::Leaf(t) => t.clone(),
            DuckType::List(e) => format!("{}[]", e.sql()),
            DuckType::Array(e, n) => format!("{}[{n}]", e.sql()),
            DuckType::Struct(f) => format!("STRUCT({})", fields(f)),
            DuckType::Map(k, v) => format!("MAP({}, {})", k.sql(), v.sql()),
            DuckType::Union(f) => format!("UNION({})", fields(f)),
        }
    }

    /// Every leaf, upper-case, depth first.
    pub(crate) fn leaves(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |leaf| out.push(leaf.to_ascii_uppercase()));
        out
    }

    fn visit(&self, f: &mut dyn FnMut(&str)) {
        match self {
            DuckType::Leaf(t) => f(t),
            DuckType::List(e) | DuckType::Array(e, _) => e.visit(f),
            DuckType::Struct(fs) | DuckType::Union(fs) => fs.iter().for_each(|(_, t)| t.visit(f)),
            DuckType::Map(k, v) => {
                k.visit(f);
                v.visit(f);
            }
        }
    }

    /// Whether a leaf starts with `prefix` (upper-case).
    pub(crate) fn has_leaf(&self, prefix: &str) -> bool {
        self.leaves().iter().any(|l| l.starts_with(prefix))
    }

    pub(crate) fn is_nested(&self) -> bool {
        !matches!(self, DuckType::Leaf(_))
    }

    fn has_union(&self) -> bool {
        match self {
            DuckType::Leaf(_) => false,
            DuckType::Union(_) => true,
            DuckType::List(e) | DuckType::Array(e, _) => e.has_union(),
            DuckType::Struct(fs) => fs.iter().any(|(_, t)| t.has_union()),
            DuckType::Map(k, v) => k.has_union() || v.has_union(),
        }
    }

    /// The same tree with each leaf replaced by `f`'s answer.
    fn map_leaves(&self, f: &dyn Fn(&str) -> String) -> DuckType {
        let fields = |fs: &[(String, DuckType)]| fs.iter().map(|(n, t)| (n.clone(), t.map_leaves(f))).collect();
        match self {
            DuckType::Leaf(t) => DuckType::Leaf(f(t)),
            DuckType::List(e) => DuckType::List(Box::new(e.map_leaves(f))),
            DuckType::Array(e, n) => DuckType::Array(Box::new(e.map_leaves(f)), n.clone()),
            DuckType::Struct(fs) => DuckType::Struct(fields(fs)),
            DuckType::Union(fs) => DuckType::Union(fields(fs)),
            DuckType::Map(k, v) => DuckType::Map(Box::new(k.map_leaves(f)), Box::new(v.map_leaves(f))),
        }
    }

    /// A DuckDB SQL condition that is true when a leaf of `value` (an
    /// expression of this type) satisfies `leaf_condition` (`{}` for the
    /// leaf), looking into lists, arrays, structs and maps; `None` when no
    /// leaf is `is_target`.
    pub(crate) fn any_leaf(
        &self,
        value: &str,
        is_target: &dyn Fn(&str) -> bool,
        leaf_condition: &str,
        depth: usize,
    ) -> Option<String> {
        match self {
            DuckType::Leaf(t) => is_target(&t.to_ascii_uppercase()).then(|| leaf_condition.replace("{}", value)),
            DuckType::List(e) | DuckType::Array(e, _) => {
                let x = format!("exact_element_{depth}");
                let inner = e.any_leaf(&x, is_target, leaf_condition, depth + 1)?;
                Some(format!(
                    "COALESCE(list_bool_or(list_transform({value}, lambda {x}: COALESCE({inner}, false))), false)"
                ))
            }
            DuckType::Struct(fs) | DuckType::Union(fs) => {
                let parts: Vec<String> = fs
                    .iter()
                    .filter_map(|(n, t)| {
                        let field = format!("struct_extract({value}, {})", crate::sql::sql_literal(n));
                        t.any_leaf(&field, is_target, leaf_condition, depth + 1)
                            .map(|c| format!("COALESCE({c}, false)"))
                    })
                    .collect();
                (!parts.is_empty()).then(|| format!("({})", parts.join(" OR ")))
            }
            DuckType::Map(k, v) => {
                let keys =
                    DuckType::List(k.clone()).any_leaf(&format!("map_keys({value})"), is_target, leaf_condition, depth);
                let values = DuckType::List(v.clone()).any_leaf(
                    &format!("map_values({value})"),
                    is_target,
                    leaf_condition,
                    depth,
                );
                match (keys, values) {
                    (None, None) => None,
                    (Some(c), None) | (None, Some(c)) => Some(c),
                    (Some(a), Some(b)) => Some(format!("({a} OR {b})")),
                }
            }
        }
    }
}

/// The start of the last `open` bracket outside quotes and parentheses.
fn last_top_level(t: &str, open: char) -> Option<usize> {
    let (mut depth, mut quote, mut last) = (0i32, None, None);
    for (i, c) in t.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, c) if c == open && depth == 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

/// `body` split at the commas outside quotes, parentheses and brackets.
fn split_top_level(body: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut start, mut parts) = (0i32, None, 0, Vec::new());
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(body[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(body[start..].trim());
    parts
}

/// `name TYPE, "quoted name" TYPE, …`
fn fields(body: &str) -> Vec<(String, DuckType)> {
    split_top_level(body)
        .into_iter()
        .filter(|f| !f.is_empty())
        .map(|field| {
            if let Some(rest) = field.strip_prefix('"') {
                let mut name = String::new();
                let mut chars = rest.char_indices().peekable();
                while let Some((i, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, d)| d) == Some('"') {
                            chars.next();
                        } else {
                            return (name, DuckType::parse(&rest[i + 1..]));
                        }
                    }
                    name.push(c);
                }
                (name, DuckType::Leaf(String::new()))
            } else {
                match field.split_once(char::is_whitespace) {
                    Some((name, t)) => (name.to_string(), DuckType::parse(t)),
                    None => (String::new(), DuckType::parse(field)),
                }
            }
        })
        .collect()
}

/// What the Parquet writer does with a DuckDB leaf type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parquet {
    /// Written as the same value.
    Exact,
    /// Written as its exact text (DuckDB's spelling).
    Text,
    /// INTERVAL: months, days and 32-bit unsigned milliseconds: each value is
    /// checked while it is written.
    Interval,
    /// A 128-bit integer: written as DECIMAL(38,0) at the top level, with a
    /// check while written.
    Hugeint,
    /// A DECIMAL whose scale exceeds its width (a PostgreSQL `numeric(3,5)`):
    /// written as DECIMAL(s,s), which holds every value.
    WideScale,
    /// Not held exactly: refused.
    Refused,
}

/// One row of the allowlist's Parquet half.
pub(crate) struct ParquetRow {
    /// The DuckDB leaf type (a prefix for the parameterised ones).
    pub(crate) duckdb: &'static str,
    /// The Parquet physical type and annotation (for the documentation).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) parquet: &'static str,
    pub(crate) verdict: Parquet,
}

const fn row(duckdb: &'static str, parquet: &'static str, verdict: Parquet) -> ParquetRow {
    ParquetRow { duckdb, parquet, verdict }
}

/// The DuckDB leaf types and what the Parquet writer makes of each, each
/// established by a test (tests/it/type_fidelity.rs, tests/it/exactness.rs
/// and the differential test); a leaf not listed is refused.
pub(crate) const PARQUET: &[ParquetRow] = &[
    row("BOOLEAN", "BOOLEAN", Parquet::Exact),
    row("TINYINT", "INT32 INT_8", Parquet::Exact),
    row("SMALLINT", "INT32 INT_16", Parquet::Exact),
    row("INTEGER", "INT32 INT_32", Parquet::Exact),
    row("BIGINT", "INT64 INT_64", Parquet::Exact),
    row("UTINYINT", "INT32 UINT_8", Parquet::Exact),
    row("USMALLINT", "INT32 UINT_16", Parquet::Exact),
    row("UINTEGER", "INT32 UINT_32", Parquet::Exact),
    row("UBIGINT", "INT64 UINT_64", Parquet::Exact),
    row("HUGEINT", "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,0)", Parquet::Hugeint),
    row("UHUGEINT", "FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,0)", Parquet::Hugeint),
    row("FLOAT", "FLOAT", Parquet::Exact),
    row("DOUBLE", "DOUBLE", Parquet::Exact),
    row("DECIMAL", "INT32 / INT64 / FIXED_LEN_BYTE_ARRAY DECIMAL(p,s)", Parquet::Exact),
    row("VARCHAR", "BYTE_ARRAY UTF8", Parquet::Exact),
    row("BLOB", "BYTE_ARRAY", Parquet::Exact),
    row("UUID", "FIXED_LEN_BYTE_ARRAY(16) UUID", Parquet::Exact),
    row("JSON", "BYTE_ARRAY JSON", Parquet::Exact),
    row("DATE", "INT32 DATE", Parquet::Exact),
    row("TIME", "INT64 TIME_MICROS", Parquet::Exact),
    row("TIMESTAMP", "INT64 TIMESTAMP_MICROS", Parquet::Exact),
    row("TIMESTAMP_S", "INT64 TIMESTAMP_MICROS", Parquet::Exact),
    row("TIMESTAMP_MS", "INT64 TIMESTAMP_MICROS", Parquet::Exact),
    row("TIMESTAMP_NS", "INT64 TIMESTAMP_NANOS", Parquet::Exact),
    row("TIMESTAMP WITH TIME ZONE", "INT64 TIMESTAMP_MICROS UTC", Parquet::Exact),
    row("INTERVAL", "FIXED_LEN_BYTE_ARRAY(12) INTERVAL", Parquet::Interval),
    row("TIME WITH TIME ZONE", "INT64 TIME_MICROS UTC", Parquet::Refused),
    row("TIME_NS", "BYTE_ARRAY UTF8 (text)", Parquet::Text),
    row("BIT", "BYTE_ARRAY UTF8 (text)", Parquet::Text),
    row("BIGNUM", "BYTE_ARRAY UTF8 (text)", Parquet::Text),
    row("VARINT", "BYTE_ARRAY UTF8 (text)", Parquet::Text),
    row("ENUM", "BYTE_ARRAY UTF8 (text)", Parquet::Text),
    row("GEOMETRY", "BYTE_ARRAY WKB, GeoParquet metadata", Parquet::Exact),
    row("\"NULL\"", "INT32 (all NULL)", Parquet::Exact),
];

/// The allowlist's Parquet half as the Markdown table in
/// docs/type-mapping.md (a test holds the page to it).
#[cfg(test)]
pub(crate) fn markdown_table() -> String {
    let mut table = String::from("| DuckDB type | Parquet | Result |\n| --- | --- | --- |\n");
    for row in PARQUET {
        let result = match row.verdict {
            Parquet::Exact => "exact",
            Parquet::Text => "exact, written as its text",
            Parquet::Interval => {
                "exact; checked while written: **refused** with microseconds, a negative part, or a time part of \
                 2^32 milliseconds (49 days 17 hours) or more"
            }
            Parquet::Hugeint => "**made exact** as `DECIMAL(38,0)`; a value of 10^38 or more stops the export",
            Parquet::WideScale => "**made exact** with a wider scale",
            Parquet::Refused => "**refused**",
        };
        table.push_str(&format!("| `{}` | {} | {result} |\n", row.duckdb, row.parquet));
    }
    table
}

/// The allowlist's verdict for one leaf (upper-case).
pub(crate) fn parquet_verdict(leaf: &str) -> Parquet {
    let leaf = leaf.trim();
    if leaf == "TIMETZ" {
        return Parquet::Refused;
    }
    if let Some((width, scale)) = decimal_width_scale(leaf) {
        return if scale <= width { Parquet::Exact } else { Parquet::WideScale };
    }
    let base = leaf.split('(').next().unwrap_or(leaf).trim();
    PARQUET
        .iter()
        .find(|r| r.duckdb == leaf || (r.duckdb == base && matches!(base, "ENUM" | "GEOMETRY")))
        .map_or(Parquet::Refused, |r| r.verdict)
}

/// `DECIMAL(w,s)` → (w, s).
pub(crate) fn decimal_width_scale(leaf: &str) -> Option<(u32, u32)> {
    let inner = leaf.trim().to_ascii_uppercase();
    let inner = inner.strip_prefix("DECIMAL(")?.strip_suffix(')')?.to_string();
    let (w, s) = inner.split_once(',')?;
    Some((w.trim().parse().ok()?, s.trim().parse().ok()?))
}

/// What the allowlist decides for one result column, from its DuckDB type
/// alone: refusals, or a select-list expression (with `how`) that writes it
/// exactly or stops the export at the first value it cannot keep.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub(crate) refusals: Vec<Refusal>,
    pub(crate) rewrite: Option<(String, String)>,
}

/// The largest millisecond count Parquet's INTERVAL holds is 2^32 - 1; a
/// larger one wraps (1194 hours would arrive as 57 minutes).
const INTERVAL_MICROS_LIMIT: &str = "4294967296000";

pub(crate) fn decide(column: &Column) -> Decision {
    let t = DuckType::parse(&column.type_name);
    let quoted = sql_identifier(&column.name);
    let refusal = |what: String, fix: String| Refusal {
        column: column.name.clone(),
        source: format!("DuckDB type {}", column.type_name),
        what,
        rows: None,
        counted_in: "",
        fix,
    };
    let as_text = format!("write CAST({quoted} AS VARCHAR) AS {quoted} to keep it as text");
    let mut decision = Decision::default();
    let leaves = t.leaves();
    let verdicts: Vec<(String, Parquet)> = leaves.iter().map(|l| (l.clone(), parquet_verdict(l))).collect();
    let inside = if t.is_nested() { format!(" (inside {})", column.type_name) } else { String::new() };
    if t.has_union() {
        decision.refusals.push(refusal(
            "Parquet has no UNION: it would be written as a STRUCT of its tag and every member".into(),
            as_text.clone(),
        ));
    }
    for (leaf, verdict) in &verdicts {
        match verdict {
            Parquet::Refused if leaf == "TIME WITH TIME ZONE" || leaf == "TIMETZ" => {
                decision.refusals.push(refusal(
                    format!(
                        "Parquet's TIME has no offset: each value would arrive converted to UTC with its offset \
                         dropped{inside}"
                    ),
                    format!(
                        "write CAST({quoted} AS VARCHAR) AS {quoted} to keep the offset (text such as 12:34:56+02)"
                    ),
                ));
            }
            Parquet::Refused => decision.refusals.push(refusal(
                format!("the DuckDB type {leaf}{inside} is not on the list of types Parquet holds exactly"),
                as_text.clone(),
            )),
            Parquet::Hugeint if t.is_nested() => decision.refusals.push(refusal(
                format!(
                    "Parquet has no 128-bit integer: the {leaf} values{inside} would be written as rounded DOUBLEs"
                ),
                as_text.clone(),
            )),
            Parquet::WideScale => {
                let (width, scale) = decimal_width_scale(leaf).unwrap_or((0, 0));
                if scale > 38 {
                    // PostgreSQL's negative scale reaches DuckDB as 256 + scale.
                    let fix = if scale > 128 {
                        let negative = 256 - scale;
                        format!(
                            "set SOURCE_DATABASE_QUERY_DIALECT=native and write CAST({quoted} AS numeric({}, 0)) AS \
                             {quoted}",
                            width + negative
                        )
                    } else {
                        as_text.clone()
                    };
                    decision.refusals.push(refusal(
                        format!(
                            "{leaf}{inside}: the source's decimal declares a scale DuckDB cannot hold (a negative scale \
                             or one above 38), its values arrive wrong"
                        ),
                        fix,
                    ));
                }
            }
            _ => {}
        }
    }
    if !decision.refusals.is_empty() {
        return decision;
    }
    let mut how = Vec::new();
    let mut expression = quoted.clone();
    if verdicts.iter().any(|(_, v)| *v == Parquet::WideScale) {
        let fixed = t.map_leaves(&|leaf| match decimal_width_scale(leaf) {
            Some((w, s)) if s > w => format!("DECIMAL({s},{s})"),
            _ => leaf.to_string(),
        });
        expression = format!("CAST({quoted} AS {})", fixed.sql());
        how.push(format!(
            "written as {} (every value kept; a Parquet DECIMAL's scale cannot exceed its precision)",
            fixed.sql()
        ));
    }
    if verdicts.iter().any(|(_, v)| *v == Parquet::Hugeint) {
        let unsigned = column.type_name.eq_ignore_ascii_case("UHUGEINT");
        let refuse = raise(&refusal(
            "a value of 10^38 or more fits no exact Parquet number (DuckDB would write a rounded DOUBLE)".into(),
            format!("write CAST({quoted} AS VARCHAR) AS {quoted} to keep every digit as text"),
        ));
        let limit = format!("'1{}'::{}", "0".repeat(38), column.type_name.to_ascii_uppercase());
        let below = if unsigned { String::new() } else { format!(" OR {quoted} <= -{limit}") };
        expression =
            format!("CASE WHEN {quoted} >= {limit}{below} THEN {refuse} ELSE CAST({quoted} AS DECIMAL(38,0)) END");
        how.push("DECIMAL(38,0) instead of a rounded DOUBLE".to_string());
    }
    if verdicts.iter().any(|(_, v)| *v == Parquet::Interval) {
        // Each part on its own (no conversion of months to microseconds,
        // which overflows for 178000000 years).
        let condition = format!(
            "(datepart('microsecond', {{}}) % 1000 <> 0 OR datepart('year', {{}}) < 0 OR datepart('month', {{}}) < 0 \
             OR datepart('day', {{}}) < 0 OR datepart('hour', {{}}) < 0 OR datepart('minute', {{}}) < 0 \
             OR datepart('microsecond', {{}}) < 0 \
             OR datepart('hour', {{}})::BIGINT * 3600000000 + datepart('minute', {{}}) * 60000000 \
             + datepart('microsecond', {{}}) >= {INTERVAL_MICROS_LIMIT})"
        );
        let is_interval = |leaf: &str| leaf == "INTERVAL";
        if let Some(bad) = t.any_leaf(&quoted, &is_interval, &condition, 0) {
            let refuse = raise(&refusal(
                format!(
                    "Parquet's INTERVAL holds months, days and milliseconds below 2^32 (49 days 17 hours) only: \
                     microseconds would be cut, a longer time part would wrap, a negative interval cannot be \
                     written{inside}"
                ),
                format!(
                    "write CAST({quoted} AS VARCHAR) AS {quoted} (text){}",
                    if t.is_nested() { String::new() } else { format!(" or epoch({quoted}) AS {quoted} (seconds)") }
                ),
            ));
            expression = format!("CASE WHEN {bad} THEN {refuse} ELSE {expression} END");
            how.push(
                "checked while written: refused if a value has microseconds, is negative or has a time part of \
                 2^32 milliseconds or more"
                    .to_string(),
            );
        }
    }
    if !how.is_empty() {
        decision.rewrite = Some((expression, how.join("; ")));
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_name: &str) -> Column {
        Column { name: "c".into(), type_name: type_name.into() }
    }

    #[test]
    fn types_parse_into_trees_down_to_their_leaves() {
        let t = DuckType::parse(r#"STRUCT(a DOUBLE, "b c" DECIMAL(10,2)[], m MAP(VARCHAR, TIME WITH TIME ZONE[3]))[]"#);
        assert_eq!(t.leaves(), ["DOUBLE", "DECIMAL(10,2)", "VARCHAR", "TIME WITH TIME ZONE"]);
        assert_eq!(t.sql(), r#"STRUCT("a" DOUBLE, "b c" DECIMAL(10,2)[], "m" MAP(VARCHAR, TIME WITH TIME ZONE[3]))[]"#);
        assert_eq!(DuckType::parse("GEOMETRY('EPSG:25832')"), DuckType::Leaf("GEOMETRY('EPSG:25832')".into()));
        assert_eq!(DuckType::parse("ENUM('a,b', 'c')[]").leaves(), ["ENUM('A,B', 'C')"]);
        assert!(DuckType::parse("UNION(i INTEGER, s VARCHAR)").has_union());
    }

    #[test]
    fn leaves_are_judged_by_the_list_and_unknown_ones_refused() {
        for leaf in ["INTEGER", "DECIMAL(38,10)", "VARCHAR", "GEOMETRY('EPSG:25832')", "ENUM('a')", "UBIGINT"] {
            assert!(matches!(parquet_verdict(leaf), Parquet::Exact | Parquet::Text), "{leaf}");
        }
        assert_eq!(parquet_verdict("TIME WITH TIME ZONE"), Parquet::Refused);
        assert_eq!(parquet_verdict("VARIANT"), Parquet::Refused);
        assert_eq!(parquet_verdict("DECIMAL(3,5)"), Parquet::WideScale);
    }

    #[test]
    fn the_type_mapping_page_holds_the_allowlist_and_claims_no_more() {
        let page = include_str!("../../../docs/type-mapping.md");
        let table = markdown_table();
        assert!(page.contains(&table), "docs/type-mapping.md must hold this table:\n{table}");
        // A row of a source's table that says exact names DuckDB types the list holds.
        for line in page.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split(" | ").collect();
            let (Some(duckdb), Some(result)) = (cells.get(1), cells.get(3)) else { continue };
            if !result.starts_with("exact") || !duckdb.starts_with('`') {
                continue;
            }
            let t = DuckType::parse(duckdb.trim_matches('`'));
            for leaf in t.leaves() {
                assert_ne!(parquet_verdict(&leaf), Parquet::Refused, "{line}");
            }
        }
    }

    #[test]
    fn nested_leaves_decide_the_column() {
        assert_eq!(decide(&column("TIME WITH TIME ZONE[]")).refusals.len(), 1);
        assert_eq!(decide(&column("STRUCT(a INTEGER, t TIME WITH TIME ZONE)")).refusals.len(), 1);
        assert_eq!(decide(&column("HUGEINT[]")).refusals.len(), 1);
        assert_eq!(decide(&column("UNION(a INTEGER)")).refusals.len(), 1);
        assert!(decide(&column("DECIMAL(5,254)")).refusals[0].fix.contains("numeric(7, 0)"));
        let d = decide(&column("STRUCT(x DECIMAL(3,5))[]"));
        assert!(d.refusals.is_empty());
        assert_eq!(d.rewrite.unwrap().0, r#"CAST("c" AS STRUCT("x" DECIMAL(5,5))[])"#);
        let (interval, _) = decide(&column("INTERVAL[]")).rewrite.unwrap();
        assert!(interval.contains("list_transform(\"c\", lambda exact_element_0:"), "{interval}");
        let plain = decide(&column("STRUCT(a INTEGER, b VARCHAR[], m MAP(VARCHAR, DOUBLE))"));
        assert!(plain.refusals.is_empty() && plain.rewrite.is_none());
    }
}
