//! The `.env` file format: a small, strict parser of our own, so that a
//! malformed line is reported by its number (never by its content, which may
//! hold a secret) and no line is ever silently swallowed into another value.
//!
//! Grammar (README, "The .env file"):
//!
//! ```text
//! file        = { line }                       LF or CRLF line ends, an optional UTF-8 BOM
//! line        = blank | comment | assignment
//! comment     = [spaces] "#" { any }
//! assignment  = [spaces] ["export" spaces] KEY [spaces] "=" [spaces] [value] [spaces] [comment-tail]
//! KEY         = letter or "_", then letters, digits, "_" or "."
//! value       = single-quoted | double-quoted | unquoted
//! single-quoted  '…'   taken literally (no escapes, no expansion); may span lines
//! double-quoted  "…"   escapes \\ \" \$ \n \r \t; $NAME and ${NAME} expanded; may span lines
//! unquoted       up to the end of the line or a " #" comment; no spaces, no quotes;
//!                $NAME and ${NAME} expanded
//! comment-tail = spaces "#" { any }          only after a value, separated by a space
//! ```
//!
//! `$NAME` / `${NAME}` take the process environment's value, else the value an
//! earlier line gave, else nothing.

use std::collections::HashMap;
use std::fmt;

/// A malformed line: its number (1-based) and what is wrong, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub problem: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each problem starts with its separator: "line 3 is not …", "line 2: a quote …".
        write!(f, "line {}{}", self.line, self.problem)
    }
}

/// Parses the text of a `.env` file into its assignments, in file order.
/// `environment` answers `$NAME` expansions before earlier lines do.
pub(crate) fn parse(
    text: &str,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser { chars: text.chars().collect(), at: 0, line: 1 };
    let mut assignments: Vec<(String, String)> = Vec::new();
    let mut earlier: HashMap<String, String> = HashMap::new();
    loop {
        parser.skip_spaces();
        match parser.peek() {
            None => break,
            Some('\n') => {
                parser.bump();
                continue;
            }
            Some('\r') if parser.peek_at(1) == Some('\n') => {
                parser.bump();
                parser.bump();
                continue;
            }
            Some('#') => {
                parser.skip_to_line_end();
                continue;
            }
            Some(_) => {}
        }
        let line = parser.line;
        let lookup = |name: &str| environment(name).or_else(|| earlier.get(name).cloned());
        let (key, value) = parser.assignment(&lookup)?;
        parser.end_of_line(line)?;
        earlier.insert(key.clone(), value.clone());
        assignments.push((key, value));
    }
    Ok(assignments)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

const NOT_AN_ASSIGNMENT: &str = " is not KEY=VALUE";
const NEVER_CLOSED: &str = " is not KEY=VALUE: a quote opened there is never closed";

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Spaces and tabs only: a line end ends the line.
    fn skip_spaces(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
        self.at > start
    }

    fn skip_to_line_end(&mut self) {
        while !matches!(self.peek(), None | Some('\n')) {
            self.bump();
        }
    }

    fn at_line_end(&self) -> bool {
        match self.peek() {
            None | Some('\n') => true,
            Some('\r') => matches!(self.peek_at(1), None | Some('\n')),
            _ => false,
        }
    }

    fn error(&self, line: usize, problem: &'static str) -> ParseError {
        ParseError { line, problem }
    }

    fn assignment(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(String, String), ParseError> {
        let line = self.line;
        let mut key = self.word();
        if key == "export" && self.skip_spaces() && self.peek() != Some('=') {
            key = self.word();
        }
        let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        self.skip_spaces();
        if !valid_key || self.bump() != Some('=') {
            return Err(self.error(line, NOT_AN_ASSIGNMENT));
        }
        self.skip_spaces();
        let value = match self.peek() {
            Some('\'') => self.single_quoted(line)?,
            Some('"') => self.double_quoted(line, lookup)?,
            _ => self.unquoted(line, lookup)?,
        };
        Ok((key, value))
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.')) {
            word.push(c);
            self.bump();
        }
        word
    }

    fn single_quoted(&mut self, line: usize) -> Result<String, ParseError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(line, NEVER_CLOSED)),
                Some('\'') => return Ok(value),
                Some(c) => value.push(c),
            }
        }
    }

    fn double_quoted(&mut self, line: usize, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ParseError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error(line, NEVER_CLOSED)),
                Some('"') => return Ok(value),
                Some('\\') => match self.bump() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(c @ ('\\' | '"' | '$')) => value.push(c),
                    Some(_) => return Err(self.error(self.line, " is not KEY=VALUE: an unknown escape in a double-quoted value (write \\\\ for a backslash, or use single quotes)")),
                    None => return Err(self.error(line, NEVER_CLOSED)),
                },
                Some('$') => self.expand(&mut value, lookup)?,
                Some(c) => value.push(c),
            }
        }
    }

    fn unquoted(&mut self, line: usize, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ParseError> {
        let mut value = String::new();
        while !self.at_line_end() {
            match self.peek() {
                Some(' ' | '\t') => break,
                Some('\'' | '"') => {
                    return Err(self.error(
                        line,
                        ": a quote in the middle of the value; put the whole value in quotes ('…' keeps it as it is)",
                    ))
                }
                Some('$') => {
                    self.bump();
                    self.expand(&mut value, lookup)?;
                }
                Some(c) => {
                    value.push(c);
                    self.bump();
                }
                None => break,
            }
        }
        Ok(value)
    }

    /// After `$`: `{NAME}` or `NAME`; a `$` not followed by a name stays.
    fn expand(&mut self, value: &mut String, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), ParseError> {
        let line = self.line;
        let braced = self.peek() == Some('{');
        if braced {
            self.bump();
        }
        let name = self.word();
        if braced && self.bump() != Some('}') {
            return Err(self.error(line, " is not KEY=VALUE: a ${ without its closing }"));
        }
        if name.is_empty() {
            value.push('$');
            if braced {
                value.push_str("{}");
            }
            return Ok(());
        }
        value.push_str(&lookup(&name).unwrap_or_default());
        Ok(())
    }

    /// Only spaces and a comment may follow a value on its (last) line.
    fn end_of_line(&mut self, line: usize) -> Result<(), ParseError> {
        let spaced = self.skip_spaces();
        if self.peek() == Some('#') && (spaced || self.at_line_end()) {
            self.skip_to_line_end();
        }
        if self.peek() == Some('\r') && self.at_line_end() {
            self.bump();
        }
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.error(
                line,
                " is not KEY=VALUE: more follows the value; quote a value that contains spaces, and separate a comment with a space",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_plain(text: &str) -> Result<Vec<(String, String)>, ParseError> {
        parse(text, &|_| None)
    }

    fn value_of(text: &str, key: &str) -> String {
        parse_plain(text).unwrap().into_iter().find(|(k, _)| k == key).map(|(_, v)| v).unwrap()
    }

    #[test]
    fn the_forms_of_a_value() {
        let text = "# comment\n\nA=plain\nexport B = 'single \\ $x' # note\nC=\"tab\\there \\\"q\\\" \\$HOME\"\nD=\nE=a#b\r\nF='multi\nline'\n";
        let got = parse_plain(text).unwrap();
        assert_eq!(
            got,
            [
                ("A", "plain"),
                ("B", "single \\ $x"),
                ("C", "tab\there \"q\" $HOME"),
                ("D", ""),
                ("E", "a#b"),
                ("F", "multi\nline")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn expansion_prefers_the_environment_then_earlier_lines() {
        let env = |name: &str| (name == "FROM_ENV").then(|| "env".to_string());
        let got = parse("BASE=/srv\nA=${BASE}/x\nB=\"$FROM_ENV-$NOPE-$\"\nC='$BASE'\n", &env).unwrap();
        assert_eq!(got[1].1, "/srv/x");
        assert_eq!(got[2].1, "env--$");
        assert_eq!(got[3].1, "$BASE");
    }

    #[test]
    fn errors_name_the_line_and_never_the_text() {
        for (text, line) in [
            ("A=1\n\nbroken line secretvalue\n", 3),
            ("A=1\nA=1 secretvalue x\n", 2),
            ("# c\nB='multi\nline'\nC='unterminated secretvalue\n", 4),
            ("A=1\nPW=it's secretvalue\n", 2),
            ("1A=secretvalue\n", 1),
            ("A=\"x\\q secretvalue\"\n", 1),
            ("A=${secretvalue\n", 1),
            ("A='x'secretvalue\n", 1),
        ] {
            let err = parse_plain(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(!err.to_string().contains("secretvalue"), "{err}");
        }
    }

    #[test]
    fn the_export_word_is_also_a_key() {
        assert_eq!(value_of("export=1\n", "export"), "1");
        assert_eq!(value_of("export   K=v", "K"), "v");
    }
}
