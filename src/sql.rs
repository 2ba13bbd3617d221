//! The text of the query: what can be said about it without a database.
//! The query may be written for DuckDB, PostgreSQL or MySQL, whose lexical
//! rules differ (backslash escapes, `#` comments, dollar quotes, nested
//! comments), so a conclusion is drawn only where every reading agrees.

use crate::error::{Error, ErrorKind, Result};

/// Trims the query and drops trailing semicolons and comments: `COPY (…;)`
/// is a syntax error, copying a query from a SQL console usually brings a
/// `;` along, and a trailing `-- comment` would swallow the `)` that the
/// export puts after the query.
pub fn clean_query(query: &str) -> String {
    let query = query.trim();
    let shapes: Vec<SqlShape> = Lexing::all().map(|lexing| sql_shape(query, lexing)).collect();
    if shapes.iter().all(|s| s.code_end == shapes[0].code_end) {
        // Every way of reading it agrees where the last statement's code ends.
        return query[..shapes[0].code_end].to_string();
    }
    let mut cleaned = query.trim_end_matches(|c: char| c == ';' || c.is_whitespace()).to_string();
    if Lexing::all().any(|lexing| sql_shape(&cleaned, lexing).ends_in_line_comment) {
        cleaned.push('\n');
    }
    cleaned
}

/// Whether the query is several statements (`SELECT 1; DROP TABLE t`). Said
/// only when every way of reading it agrees, so a `;` inside a string or
/// comment of any dialect never counts.
pub fn has_several_statements(query: &str) -> bool {
    Lexing::all().all(|lexing| {
        let shape = sql_shape(query, lexing);
        shape.separators.iter().any(|&s| s < shape.code_end)
    })
}

/// Lexical rules that differ between the SQL dialects a query may be
/// written in: MySQL's backslash escapes and `#` comments, PostgreSQL's
/// (and DuckDB's) dollar quotes and nested block comments.
#[derive(Debug, Clone, Copy)]
struct Lexing {
    backslash_escapes: bool,
    hash_comments: bool,
    dollar_quotes: bool,
    nested_comments: bool,
}

impl Lexing {
    fn all() -> impl Iterator<Item = Lexing> {
        (0..16u8).map(|bits| Lexing {
            backslash_escapes: bits & 1 != 0,
            hash_comments: bits & 2 != 0,
            dollar_quotes: bits & 4 != 0,
            nested_comments: bits & 8 != 0,
        })
    }
}

/// A query as one [`Lexing`] reads it.
#[derive(Debug)]
struct SqlShape {
    /// Byte offsets of the `;` outside quotes and comments.
    separators: Vec<usize>,
    /// Byte offset just after the last code (not white space, comment or `;`).
    code_end: usize,
    /// Whether the text ends inside a line comment.
    ends_in_line_comment: bool,
}

fn sql_shape(sql: &str, lexing: Lexing) -> SqlShape {
    let b = sql.as_bytes();
    let n = b.len();
    let mut shape = SqlShape { separators: Vec::new(), code_end: 0, ends_in_line_comment: false };
    let mut i = 0;
    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b';' => {
                shape.separators.push(i);
                i += 1;
            }
            b'-' if next == Some(b'-') => skip_line_comment(b, &mut i, &mut shape),
            b'#' if lexing.hash_comments => skip_line_comment(b, &mut i, &mut shape),
            b'/' if next == Some(b'*') => {
                let mut depth = 1;
                i += 2;
                while i < n && depth > 0 {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else if lexing.nested_comments && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < n {
                    // A backslash escape, or the quote doubled: two bytes that stay inside.
                    let escaped = lexing.backslash_escapes && b[i] == b'\\' && c != b'`';
                    if escaped || (b[i] == c && b.get(i + 1) == Some(&c)) {
                        i += 2;
                    } else if b[i] == c {
                        i += 1;
                        break;
                    } else {
                        i += 1;
                    }
                }
                i = i.min(n);
                shape.code_end = i;
            }
            b'$' if lexing.dollar_quotes && (i == 0 || !is_identifier_byte(b[i - 1])) => {
                // `$tag$ … $tag$`, the tag empty or an identifier; `$1` is a parameter.
                let tag_len = b[i + 1..].iter().take_while(|x| is_identifier_byte(**x) && **x != b'$').count();
                let close = i + 1 + tag_len;
                if close < n && b[close] == b'$' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let delimiter = &b[i..=close];
                    i = match b[close + 1..].windows(delimiter.len()).position(|w| w == delimiter) {
                        Some(p) => close + 1 + p + delimiter.len(),
                        None => n,
                    };
                } else {
                    i += 1;
                }
                shape.code_end = i;
            }
            _ => {
                // At the top level `i` is always on a character boundary.
                let ch = sql[i..].chars().next().expect("a character at a boundary");
                i += ch.len_utf8();
                if !ch.is_whitespace() {
                    shape.code_end = i;
                }
            }
        }
    }
    shape
}

fn skip_line_comment(b: &[u8], i: &mut usize, shape: &mut SqlShape) {
    match b[*i..].iter().position(|x| *x == b'\n') {
        Some(p) => *i += p + 1,
        None => {
            shape.ends_in_line_comment = true;
            *i = b.len();
        }
    }
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Statements that write or change the session. The source is attached
/// read-only anyway; this turns a confusing parser error about `COPY (INSERT …)`
/// into a message that says what is wrong.
const WRITING_STATEMENTS: [&str; 22] = [
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    "COPY",
    "ATTACH",
    "DETACH",
    "INSTALL",
    "LOAD",
    "SET",
    "RESET",
    "PRAGMA",
    "VACUUM",
    "CHECKPOINT",
    "USE",
];

pub fn refuse_writes(query: &str) -> Result<()> {
    let first = first_keyword(query).to_ascii_uppercase();
    if WRITING_STATEMENTS.contains(&first.as_str()) {
        return Err(Error::new(
            ErrorKind::Query,
            format!(
                "SOURCE_DATABASE_SQL_QUERY must be a single SELECT, not {first}: the source database is attached \
                 read-only and is never written"
            ),
        ));
    }
    Ok(())
}

/// The first word of a statement, after white space, comments and parentheses.
fn first_keyword(query: &str) -> &str {
    let mut rest = query;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(line_comment) = trimmed.strip_prefix("--") {
            rest = line_comment.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else if let Some(block) = trimmed.strip_prefix("/*") {
            rest = block.split_once("*/").map(|(_, r)| r).unwrap_or("");
        } else {
            let end = trimmed.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(trimmed.len());
            return &trimmed[..end];
        }
    }
}

/// A DuckDB string literal.
pub fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A quoted identifier, as DuckDB and PostgreSQL read it (standard SQL).
pub fn sql_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `query` with some of its result columns replaced by expressions (same
/// names, same order); `alias` names the wrapped query. Unchanged when there
/// is nothing to replace.
pub fn replace_columns(query: &str, replacements: &[(&str, String)], alias: &str) -> String {
    if replacements.is_empty() {
        return query.to_string();
    }
    let replace: Vec<String> =
        replacements.iter().map(|(column, expression)| format!("{expression} AS {}", sql_identifier(column))).collect();
    format!("SELECT * REPLACE ({}) FROM ({query}) AS {alias}", replace.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_columns_keep_their_names() {
        let replaced = replace_columns("SELECT a, b FROM t", &[("b", "upper(b)".to_string())], "q");
        assert_eq!(replaced, r#"SELECT * REPLACE (upper(b) AS "b") FROM (SELECT a, b FROM t) AS q"#);
        assert_eq!(replace_columns("SELECT 1", &[], "q"), "SELECT 1");
    }

    #[test]
    fn writing_statements_are_refused() {
        for query in ["INSERT INTO t VALUES (1)", "  -- note\n /* x */ (DELETE FROM t)", "create table x (a int)"] {
            let err = refuse_writes(query).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Query);
            assert!(err.message().contains("read-only"), "{err}");
        }
        for query in ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "FROM t", "(SELECT 1)", "VALUES (1)"] {
            assert!(refuse_writes(query).is_ok(), "{query}");
        }
    }

    #[test]
    fn queries_lose_trailing_semicolons_and_comments() {
        for (raw, clean) in [
            ("SELECT 1;", "SELECT 1"),
            ("  SELECT 1 ;; \n", "SELECT 1"),
            ("SELECT 1 -- the answer", "SELECT 1"),
            ("SELECT 1; -- done", "SELECT 1"),
            ("SELECT 1 /* a comment */ ;", "SELECT 1"),
            // Nested for DuckDB and PostgreSQL, not for MySQL: only the `;` goes.
            ("SELECT 1 /* a /* nested */ comment */ ;", "SELECT 1 /* a /* nested */ comment */"),
            ("SELECT '--;' AS a", "SELECT '--;' AS a"),
            // Without dollar quotes (MySQL) the end is a comment: a line break keeps it harmless.
            ("SELECT $$ -- ; $$ AS a", "SELECT $$ -- ; $$ AS a\n"),
            ("-- only a comment", ""),
            ("SELECT 'it''s' AS a;", "SELECT 'it''s' AS a"),
            // Found by tests/it/properties.rs: white space the lexer does not know.
            ("''\u{b};", "''"),
            ("SELECT 1\u{a0};", "SELECT 1"),
            (";\u{b};", ""),
        ] {
            assert_eq!(clean_query(raw), clean, "{raw:?}");
        }
        // Read differently by MySQL (backslash escape) and DuckDB: nothing is cut, but
        // a trailing line comment ends with a line break.
        assert_eq!(clean_query(r"SELECT 'a\' -- x"), "SELECT 'a\\' -- x\n");
    }

    #[test]
    fn several_statements_are_recognised_only_when_certain() {
        for several in ["SELECT 1; SELECT 2", "SELECT 1;DROP TABLE t;", "SELECT 1; ; SELECT 2 -- x"] {
            assert!(has_several_statements(&clean_query(several)), "{several:?}");
        }
        for single in [
            "SELECT 1;",
            "SELECT ';' AS a",
            "SELECT 1 -- ; SELECT 2",
            "SELECT 1 /* ; SELECT 2 */",
            "SELECT $x$;$x$ AS a",
            r"SELECT 'it\'s; fine' AS a",
            "SELECT 1 # ; two",
            "SELECT \"a;b\" FROM t",
            "SELECT `a;b` FROM t",
        ] {
            assert!(!has_several_statements(&clean_query(single)), "{single:?}");
        }
    }
}
