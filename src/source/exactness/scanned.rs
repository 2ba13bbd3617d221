//! The source half of the allowlist: per kind (its `Facts::scanned`), the
//! (source type → DuckDB type) pairs its scanner is known to produce. A
//! column read through a pair on the list is judged further by the kind's
//! `treat` and by the Parquet half (`allowlist.rs`); a column whose pair is
//! not on the list is refused. So a scanner that reads a type differently
//! than when the list was proven (another extension version, a type nobody
//! tried) cannot pass unchecked. The list is backed by the tests that read
//! every type of the servers' own catalogues (`tests/it/generated_types.rs`
//! fails on a pair that is not on it) and by `type_fidelity.rs`.

use super::DuckType;

/// One pair: a source type and the DuckDB type the scanner reads it as.
/// Patterns are matched without regard to case; `*` stands for any text. A
/// `(*)` on both sides is the type's modifier, which must then be the same
/// (`numeric(10,2)` is read as `DECIMAL(10,2)`, not as `DECIMAL(10,1)`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScannedPair {
    pub(crate) source: &'static str,
    pub(crate) duckdb: &'static str,
    /// What the pair means, for docs/type-mapping.md.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) note: &'static str,
}

pub(crate) const fn pair(source: &'static str, duckdb: &'static str, note: &'static str) -> ScannedPair {
    ScannedPair { source, duckdb, note }
}

/// Whether `pairs` hold the scanner's reading of `source_type` as
/// `duckdb_type`. An array is held when its element's pair is (the source's
/// `[]` against DuckDB's list).
pub(crate) fn is_proven(pairs: &[ScannedPair], source_type: &str, duckdb_type: &str) -> bool {
    let source = source_type.trim().to_ascii_lowercase();
    let duckdb = duckdb_type.trim().to_ascii_uppercase();
    if pairs.iter().any(|p| pair_matches(p, &source, &duckdb)) {
        return true;
    }
    match (source.strip_suffix("[]"), DuckType::parse(&duckdb)) {
        (Some(element), DuckType::List(duckdb_element)) => is_proven(pairs, element, &duckdb_element.sql()),
        _ => false,
    }
}

fn pair_matches(pair: &ScannedPair, source: &str, duckdb: &str) -> bool {
    let (Some(source_parts), Some(duckdb_parts)) =
        (glob(&pair.source.to_ascii_lowercase(), source), glob(&pair.duckdb.to_ascii_uppercase(), duckdb))
    else {
        return false;
    };
    match (modifier(pair.source, &source_parts), modifier(pair.duckdb, &duckdb_parts)) {
        (Some(a), Some(b)) => a.replace(' ', "") == b.replace(' ', ""),
        _ => true,
    }
}

/// The text a pattern's `(*)` matched, if it has one.
fn modifier<'a>(pattern: &str, parts: &[&'a str]) -> Option<&'a str> {
    let position = pattern.find("(*)")?;
    let index = pattern[..position].matches('*').count();
    parts.get(index).copied()
}

/// What each `*` of `pattern` matched in `text` (the shortest first), or
/// `None` when the text does not match.
fn glob<'a>(pattern: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let Some((literal, rest)) = pattern.split_once('*') else {
        return (pattern == text).then(Vec::new);
    };
    let after = text.strip_prefix(literal)?;
    for end in 0..=after.len() {
        if !after.is_char_boundary(end) {
            continue;
        }
        if let Some(mut parts) = glob(rest, &after[end..]) {
            parts.insert(0, &after[..end]);
            return Some(parts);
        }
    }
    None
}

/// The pairs of one kind as a Markdown table for docs/type-mapping.md (a
/// test holds the page to it).
#[cfg(test)]
pub(crate) fn markdown_table(pairs: &[ScannedPair]) -> String {
    let mut table = String::from("| source type | read by the scanner as | |\n| --- | --- | --- |\n");
    for p in pairs {
        let source = if p.source == "*" { "any type".to_string() } else { format!("`{}`", p.source) };
        table.push_str(&format!("| {source} | `{}` | {} |\n", p.duckdb, p.note));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::kind::SourceKind;

    const PAIRS: &[ScannedPair] = &[
        pair("integer", "INTEGER", ""),
        pair("numeric(*)", "DECIMAL(*)", ""),
        pair("numeric(*,-*)", "DECIMAL(*)", ""),
        pair("int*unsigned*", "UINTEGER", ""),
        pair("box", "DOUBLE[]", ""),
        pair("*", "VARCHAR", ""),
    ];

    #[test]
    fn a_pair_matches_by_pattern_and_the_modifier_must_be_the_same() {
        assert!(is_proven(PAIRS, "integer", "INTEGER"));
        assert!(is_proven(PAIRS, "Numeric(10,2)", "DECIMAL(10, 2)"));
        assert!(!is_proven(PAIRS, "numeric(10,2)", "DECIMAL(10,1)"));
        assert!(!is_proven(PAIRS, "numeric", "DECIMAL(18,3)"));
        assert!(is_proven(PAIRS, "numeric(5,-2)", "DECIMAL(5,254)"));
        assert!(is_proven(PAIRS, "int(10) unsigned zerofill", "UINTEGER"));
        assert!(!is_proven(PAIRS, "int(10) unsigned", "INTEGER"));
        assert!(is_proven(PAIRS, "anything at all", "VARCHAR"));
        assert!(!is_proven(PAIRS, "anything at all", "DOUBLE"));
        assert!(is_proven(PAIRS, "ümlaut", "VARCHAR"));
    }

    #[test]
    fn an_array_is_proven_by_its_element() {
        assert!(is_proven(PAIRS, "integer[]", "INTEGER[]"));
        assert!(is_proven(PAIRS, "box[]", "DOUBLE[][]"));
        assert!(is_proven(PAIRS, "numeric(10,2)[]", "DECIMAL(10,2)[]"));
        assert!(!is_proven(PAIRS, "integer[]", "BIGINT[]"));
        assert!(!is_proven(PAIRS, "integer", "INTEGER[]"));
    }

    #[test]
    fn the_type_mapping_page_holds_every_kinds_scanned_pairs() {
        let page = include_str!("../../../docs/type-mapping.md");
        for kind in SourceKind::ALL {
            let pairs = kind.facts().scanned;
            if pairs.is_empty() {
                continue;
            }
            let table = markdown_table(pairs);
            assert!(page.contains(&table), "docs/type-mapping.md must hold {kind:?}'s pairs:\n{table}");
        }
    }

    #[test]
    fn glob_captures() {
        assert_eq!(glob("a*c*", "abbcd"), Some(vec!["bb", "d"]));
        assert_eq!(glob("a(*)*", "a(1,2) x"), Some(vec!["1,2", " x"]));
        assert_eq!(glob("a", "b"), None);
    }
}
