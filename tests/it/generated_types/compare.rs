//! How a value read back from the Parquet file is compared with the server's
//! own text for it (the rules are listed in `generated_types.rs`'s doc comment).
//!
//! The exported side is DuckDB's `to_json()` of the column, parsed here with a
//! small JSON reader that keeps every number token as written (no rounding
//! through `f64`), and DuckDB's type of the column, parsed into its nesting.
//! The source side is the server's text of the value, parsed along the source
//! type's own nesting (PostgreSQL array and record literals).

/// A JSON value with number tokens kept as text (`NaN`, `Infinity` and
/// `-Infinity`, which DuckDB writes bare for doubles, are numbers too).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => write!(f, "null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) => write!(f, "{n}"),
            Json::Str(s) => write!(f, "{s:?}"),
            Json::Arr(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Json::Obj(fields) => {
                write!(f, "{{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

pub fn parse_json(text: &str) -> Result<Json, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let value = json_value(&chars, &mut pos)?;
    skip_ws(&chars, &mut pos);
    if pos != chars.len() {
        return Err(format!("trailing text in JSON {text:?}"));
    }
    Ok(value)
}

fn skip_ws(c: &[char], pos: &mut usize) {
    while *pos < c.len() && c[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn json_value(c: &[char], pos: &mut usize) -> Result<Json, String> {
    skip_ws(c, pos);
    let rest: String = c[*pos..].iter().take(9).collect();
    for (word, value) in [
        ("null", Json::Null),
        ("true", Json::Bool(true)),
        ("false", Json::Bool(false)),
        ("NaN", Json::Num("NaN".into())),
        ("Infinity", Json::Num("Infinity".into())),
        ("-Infinity", Json::Num("-Infinity".into())),
    ] {
        if rest.starts_with(word) {
            *pos += word.len();
            return Ok(value);
        }
    }
    match c.get(*pos) {
        None => Err("JSON ends early".into()),
        Some('"') => Ok(Json::Str(json_string(c, pos)?)),
        Some('[') => {
            *pos += 1;
            let mut items = Vec::new();
            skip_ws(c, pos);
            if c.get(*pos) == Some(&']') {
                *pos += 1;
                return Ok(Json::Arr(items));
            }
            loop {
                items.push(json_value(c, pos)?);
                skip_ws(c, pos);
                match c.get(*pos) {
                    Some(',') => *pos += 1,
                    Some(']') => {
                        *pos += 1;
                        return Ok(Json::Arr(items));
                    }
                    other => return Err(format!("JSON array: unexpected {other:?}")),
                }
            }
        }
        Some('{') => {
            *pos += 1;
            let mut fields = Vec::new();
            skip_ws(c, pos);
            if c.get(*pos) == Some(&'}') {
                *pos += 1;
                return Ok(Json::Obj(fields));
            }
            loop {
                skip_ws(c, pos);
                let key = json_string(c, pos)?;
                skip_ws(c, pos);
                if c.get(*pos) != Some(&':') {
                    return Err("JSON object: no colon".into());
                }
                *pos += 1;
                fields.push((key, json_value(c, pos)?));
                skip_ws(c, pos);
                match c.get(*pos) {
                    Some(',') => *pos += 1,
                    Some('}') => {
                        *pos += 1;
                        return Ok(Json::Obj(fields));
                    }
                    other => return Err(format!("JSON object: unexpected {other:?}")),
                }
            }
        }
        Some(_) => {
            let start = *pos;
            while *pos < c.len() && (c[*pos].is_ascii_alphanumeric() || "+-.".contains(c[*pos])) {
                *pos += 1;
            }
            if start == *pos {
                return Err(format!("JSON: unexpected {:?}", c[start]));
            }
            Ok(Json::Num(c[start..*pos].iter().collect()))
        }
    }
}

fn json_string(c: &[char], pos: &mut usize) -> Result<String, String> {
    if c.get(*pos) != Some(&'"') {
        return Err("JSON: expected a string".into());
    }
    *pos += 1;
    let mut out = String::new();
    let mut pending_high: Option<u32> = None;
    while let Some(&ch) = c.get(*pos) {
        *pos += 1;
        match ch {
            '"' => return Ok(out),
            '\\' => {
                let esc = *c.get(*pos).ok_or("JSON: escape at the end")?;
                *pos += 1;
                match esc {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = c[*pos..(*pos + 4).min(c.len())].iter().collect();
                        *pos += 4;
                        let code = u32::from_str_radix(&hex, 16).map_err(|e| format!("JSON \\u{hex}: {e}"))?;
                        if (0xD800..0xDC00).contains(&code) {
                            pending_high = Some(code);
                            continue;
                        }
                        let code = match pending_high.take() {
                            Some(high) => 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00),
                            None => code,
                        };
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    Err("JSON string not closed".into())
}

/// A DuckDB type as `DESCRIBE` prints it, split into its nesting.
#[derive(Debug, Clone, PartialEq)]
pub enum DType {
    Leaf(String),
    List(Box<DType>),
    Struct(Vec<(String, DType)>),
    Map(Box<DType>, Box<DType>),
    Union(Vec<(String, DType)>),
}

/// Splits `text` at the commas outside parentheses and quotes.
fn split_top(text: &str) -> Vec<String> {
    let (mut depth, mut quote, mut parts, mut current) = (0i32, None::<char>, Vec::new(), String::new());
    for ch in text.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"') | (None, '\'') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}

fn named_members(inner: &str) -> Vec<(String, DType)> {
    split_top(inner)
        .into_iter()
        .map(|member| {
            let (name, ty) = if let Some(rest) = member.strip_prefix('"') {
                let end = rest.find('"').unwrap_or(rest.len());
                (rest[..end].to_string(), rest[end + 1..].trim().to_string())
            } else {
                let (n, t) = member.split_once(' ').unwrap_or((&member, ""));
                (n.to_string(), t.trim().to_string())
            };
            (name, parse_dtype(&ty))
        })
        .collect()
}

pub fn parse_dtype(text: &str) -> DType {
    let text = text.trim();
    if let Some(inner) = text.strip_suffix("[]") {
        return DType::List(Box::new(parse_dtype(inner)));
    }
    if text.ends_with(']') {
        if let Some(open) = text.rfind('[') {
            if text[open + 1..text.len() - 1].chars().all(|c| c.is_ascii_digit()) {
                return DType::List(Box::new(parse_dtype(&text[..open])));
            }
        }
    }
    let upper = text.to_ascii_uppercase();
    for (prefix, kind) in [("STRUCT(", 0), ("MAP(", 1), ("UNION(", 2)] {
        if upper.starts_with(prefix) && text.ends_with(')') {
            let inner = &text[prefix.len()..text.len() - 1];
            return match kind {
                0 => DType::Struct(named_members(inner)),
                1 => {
                    let parts = split_top(inner);
                    DType::Map(Box::new(parse_dtype(&parts[0])), Box::new(parse_dtype(&parts[1])))
                }
                _ => DType::Union(named_members(inner)),
            };
        }
    }
    DType::Leaf(text.to_string())
}

/// The nesting of a source type, as the source catalogue describes it; a leaf
/// is named by the source's base type (PostgreSQL `typname`, MariaDB
/// `DATA_TYPE`, with a `bool`/`hex`/`geometry` marker where the comparison
/// depends on it).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Leaf(String),
    Array(Box<Shape>),
    Record(Vec<(String, Shape)>),
}

/// Extra facts of a value, besides its text: for geometry, its standard WKB
/// (hex) as the server writes it (`ST_AsBinary`).
#[derive(Debug, Clone, Default)]
pub struct Alt {
    pub wkb_hex: Option<String>,
}

/// One item of a PostgreSQL array literal.
#[derive(Debug, Clone)]
enum Item {
    Null,
    Text(String),
    Nested(Vec<Item>),
}

/// Parses PostgreSQL's array output (`{a,"b c",NULL,{1,2}}`); `delim` is the
/// element type's `typdelim` (`;` for box).
fn parse_pg_array(text: &str, delim: char) -> Result<Vec<Item>, String> {
    if text.starts_with('[') {
        return Err(format!("array with explicit bounds {text:?} (the bounds have no place in a list)"));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let items = pg_array_items(&chars, &mut pos, delim)?;
    if pos != chars.len() {
        return Err(format!("trailing text in array literal {text:?}"));
    }
    Ok(items)
}

fn pg_array_items(c: &[char], pos: &mut usize, delim: char) -> Result<Vec<Item>, String> {
    if c.get(*pos) != Some(&'{') {
        return Err("array literal: expected {".into());
    }
    *pos += 1;
    let mut items = Vec::new();
    if c.get(*pos) == Some(&'}') {
        *pos += 1;
        return Ok(items);
    }
    loop {
        match c.get(*pos) {
            Some('{') => items.push(Item::Nested(pg_array_items(c, pos, delim)?)),
            Some('"') => {
                *pos += 1;
                let mut s = String::new();
                loop {
                    match c.get(*pos) {
                        Some('\\') => {
                            s.push(*c.get(*pos + 1).ok_or("array literal: escape at the end")?);
                            *pos += 2;
                        }
                        Some('"') => {
                            *pos += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            *pos += 1;
                        }
                        None => return Err("array literal: quote not closed".into()),
                    }
                }
                items.push(Item::Text(s));
            }
            Some(_) => {
                let start = *pos;
                while *pos < c.len() && c[*pos] != delim && c[*pos] != '}' {
                    *pos += 1;
                }
                let raw: String = c[start..*pos].iter().collect();
                items.push(if raw.eq_ignore_ascii_case("NULL") { Item::Null } else { Item::Text(raw) });
            }
            None => return Err("array literal ends early".into()),
        }
        match c.get(*pos) {
            Some(&ch) if ch == delim => *pos += 1,
            Some('}') => {
                *pos += 1;
                return Ok(items);
            }
            other => return Err(format!("array literal: unexpected {other:?}")),
        }
    }
}

/// Parses PostgreSQL's record output (`(1.5,"a b",)`): an empty field is NULL.
fn parse_pg_record(text: &str) -> Result<Vec<Option<String>>, String> {
    let inner = text
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("not a record literal: {text:?}"))?;
    let chars: Vec<char> = inner.chars().collect();
    let (mut fields, mut pos) = (Vec::new(), 0);
    loop {
        let mut value: Option<String> = None;
        while pos < chars.len() && chars[pos] != ',' {
            let s = value.get_or_insert_with(String::new);
            if chars[pos] == '"' {
                pos += 1;
                while pos < chars.len() {
                    match chars[pos] {
                        '"' if chars.get(pos + 1) == Some(&'"') => {
                            s.push('"');
                            pos += 2;
                        }
                        '"' => {
                            pos += 1;
                            break;
                        }
                        '\\' => {
                            s.extend(chars.get(pos + 1));
                            pos += 2;
                        }
                        ch => {
                            s.push(ch);
                            pos += 1;
                        }
                    }
                }
            } else {
                s.push(chars[pos]);
                pos += 1;
            }
        }
        fields.push(value);
        if pos >= chars.len() {
            return Ok(fields);
        }
        pos += 1;
    }
}

/// Compares one value: `src` is the server's text (None for NULL), `got`
/// the value read back from the file. `Err` says what differs.
pub fn compare(
    shape: &Shape,
    delim: char,
    src: Option<&str>,
    alt: &Alt,
    dtype: &DType,
    got: &Json,
) -> Result<(), String> {
    let Some(src) = src else {
        return if *got == Json::Null { Ok(()) } else { Err(format!("NULL arrived as {got}")) };
    };
    if *got == Json::Null {
        return Err(format!("{src:?} arrived as NULL"));
    }
    if let Shape::Leaf(kind) = shape {
        if GEOMETRIC.contains(&kind.as_str()) && !matches!(dtype, DType::Leaf(_)) {
            return compare_geometric(kind, src, got);
        }
    }
    match (shape, dtype) {
        (Shape::Array(inner), DType::List(element)) => {
            let items = parse_pg_array(src, delim)?;
            compare_items(inner, delim, &items, element, got).map_err(|e| format!("{src}: {e}"))
        }
        (Shape::Record(fields), DType::Struct(members)) => {
            let values = parse_pg_record(src)?;
            let Json::Obj(got_fields) = got else { return Err(format!("{src} arrived as {got}")) };
            if values.len() != fields.len() || got_fields.len() != members.len() || members.len() != fields.len() {
                return Err(format!("{src}: {} fields arrived as {got}", fields.len()));
            }
            for (i, ((_, field_shape), value)) in fields.iter().zip(&values).enumerate() {
                compare(field_shape, ',', value.as_deref(), &Alt::default(), &members[i].1, &got_fields[i].1)
                    .map_err(|e| format!("field {}: {e}", fields[i].0))?;
            }
            Ok(())
        }
        (Shape::Leaf(kind), DType::Leaf(leaf)) => compare_leaf(kind, src, alt, leaf, got),
        // A nested source value that arrives as one text: compare the whole text.
        (Shape::Array(_) | Shape::Record(_), DType::Leaf(leaf)) => compare_leaf("text", src, alt, leaf, got),
        (_, other) => Err(format!("{src:?} arrived as {got} (DuckDB type {other:?})")),
    }
}

/// PostgreSQL's geometric types, which the scanner reads as a list (or struct) of their numbers.
const GEOMETRIC: [&str; 7] = ["point", "line", "lseg", "box", "path", "polygon", "circle"];

/// A geometric value read as DOUBLE[] or a STRUCT of doubles: the numbers of
/// its text, in order, must be the file's. A path also says whether it is open (`[…]`) or closed
/// (`(…)`), which a list of numbers cannot hold.
fn compare_geometric(kind: &str, src: &str, got: &Json) -> Result<(), String> {
    let mut numbers = Vec::new();
    let mut current = String::new();
    for ch in src.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() || matches!(ch, '.' | '-' | '+' | 'e' | 'E') || ch.is_ascii_alphabetic() {
            current.push(ch);
        } else if !current.is_empty() {
            numbers.push(parse_f64(&current));
            current.clear();
        }
    }
    fn flatten<'a>(json: &'a Json, out: &mut Vec<&'a Json>) {
        match json {
            Json::Arr(items) => items.iter().for_each(|i| flatten(i, out)),
            Json::Obj(fields) => fields.iter().for_each(|(_, v)| flatten(v, out)),
            other => out.push(other),
        }
    }
    let mut items = Vec::new();
    flatten(got, &mut items);
    let same = items.len() == numbers.len()
        && items.iter().zip(&numbers).all(|(item, n)| match (item, n) {
            (Json::Num(text), Some(n)) => parse_f64(text).is_some_and(|g| same_f64(g, *n)),
            _ => false,
        });
    if !same {
        return Err(format!("{src:?} arrived as {got}"));
    }
    if kind == "path" {
        return Err(format!("{src:?} arrived as {got} (DOUBLE[]): whether the path is open or closed is lost"));
    }
    Ok(())
}

fn compare_items(inner: &Shape, delim: char, items: &[Item], element: &DType, got: &Json) -> Result<(), String> {
    let Json::Arr(got_items) = got else { return Err(format!("arrived as {got}, not as a list")) };
    if got_items.len() != items.len() {
        return Err(format!("{} elements arrived as {} ({got})", items.len(), got_items.len()));
    }
    for (item, got_item) in items.iter().zip(got_items) {
        match item {
            Item::Null => {
                if *got_item != Json::Null {
                    return Err(format!("a NULL element arrived as {got_item}"));
                }
            }
            Item::Nested(sub) => match element {
                DType::List(sub_element) => compare_items(inner, delim, sub, sub_element, got_item)?,
                _ => return Err(format!("a nested array arrived as {got} (DuckDB element type {element:?})")),
            },
            Item::Text(text) => compare(inner, delim, Some(text), &Alt::default(), element, got_item)?,
        }
    }
    Ok(())
}

fn base_name(leaf: &str) -> String {
    leaf.split('(').next().unwrap_or(leaf).trim().to_ascii_uppercase()
}

fn got_text(got: &Json) -> String {
    match got {
        Json::Str(s) | Json::Num(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A decimal number without sign noise, leading/trailing zeros or exponent,
/// so that `1.50`, `1.5` and `15e-1` compare equal; None if `text` is no
/// plain finite decimal.
pub fn canonical_decimal(text: &str) -> Option<String> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let digits = digits.trim_start_matches('0');
    let leading_removed = format!("{int}{frac}").len() - digits.len();
    let point = point - leading_removed as i64;
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return Some("0".into());
    }
    Some(format!("{}0.{}e{}", if neg { "-" } else { "" }, digits, point))
}

fn special_float(text: &str) -> Option<&'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" | "-nan" => Some("NaN"),
        "infinity" | "inf" | "+infinity" | "+inf" => Some("Infinity"),
        "-infinity" | "-inf" => Some("-Infinity"),
        _ => None,
    }
}

fn parse_f64(text: &str) -> Option<f64> {
    match special_float(text) {
        Some("NaN") => Some(f64::NAN),
        Some("Infinity") => Some(f64::INFINITY),
        Some(_) => Some(f64::NEG_INFINITY),
        None => text.trim().parse().ok(),
    }
}

fn same_f64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn compare_numbers(kind: &str, src: &str, got: &str) -> Result<(), String> {
    let equal = match kind {
        "float4" | "float" => match (parse_f64(src), parse_f64(got)) {
            // The source holds a single-precision value: the file must hold that one.
            (Some(a), Some(b)) => same_f64((a as f32) as f64, b),
            _ => false,
        },
        "float8" | "double" => match (parse_f64(src), parse_f64(got)) {
            (Some(a), Some(b)) => same_f64(a, b),
            _ => false,
        },
        _ => match (canonical_decimal(src), canonical_decimal(got)) {
            (Some(a), Some(b)) => a == b,
            _ => matches!((special_float(src), special_float(got)), (Some(a), Some(b)) if a == b),
        },
    };
    if equal {
        Ok(())
    } else {
        Err(format!("{src:?} arrived as {got:?}"))
    }
}

/// Date/time text in one spelling: `T` → space, ` (BC)` → ` BC`, UTC offsets
/// `+00:00`/`+0000` → `+00`, no trailing zeros in the fraction.
pub fn canonical_datetime(text: &str) -> String {
    // PostgreSQL writes BC at the end (`4713-01-01 00:00:00+00 BC`), DuckDB after the date.
    let mut t = text.trim().replace('T', " ");
    let bc = t.contains(" (BC)") || t.ends_with(" BC");
    t = t.replace(" (BC)", "");
    if t.ends_with(" BC") {
        t.truncate(t.len() - 3);
    }
    // Split off an offset: the last + or - after the time part.
    let time_start = t.find(':').map(|i| i.saturating_sub(2)).unwrap_or(t.len());
    let (body, offset) = match t[time_start..].rfind(['+', '-']) {
        Some(i) => (t[..time_start + i].to_string(), Some(t[time_start + i..].to_string())),
        None => (t.clone(), None),
    };
    let body = match body.rfind('.') {
        Some(dot) if body[dot + 1..].chars().all(|c| c.is_ascii_digit()) && body[..dot].contains(':') => {
            let frac = body[dot + 1..].trim_end_matches('0');
            if frac.is_empty() {
                body[..dot].to_string()
            } else {
                format!("{}.{frac}", &body[..dot])
            }
        }
        _ => body,
    };
    let offset = offset.map(|o| {
        let sign = &o[..1];
        let digits: String = o[1..].chars().filter(|c| c.is_ascii_digit()).collect();
        let (h, rest) = digits.split_at(digits.len().min(2));
        let (m, s) = rest.split_at(rest.len().min(2));
        let mut out = format!("{sign}{h:0>2}");
        if !m.is_empty() && (m != "00" || !s.is_empty() && s != "00") {
            out.push_str(&format!(":{m}"));
        }
        if !s.is_empty() && s != "00" {
            out.push_str(&format!(":{s}"));
        }
        if out == "-00" {
            "+00".to_string()
        } else {
            out
        }
    });
    format!("{body}{}{}", offset.unwrap_or_default(), if bc { " BC" } else { "" })
}

/// An interval's text (PostgreSQL's `postgres` style or DuckDB's) as months,
/// days and microseconds.
pub fn parse_interval(text: &str) -> Option<(i128, i128, i128)> {
    let (mut months, mut days, mut micros) = (0i128, 0i128, 0i128);
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if word.contains(':') {
            let neg = word.starts_with('-');
            let w = word.trim_start_matches(['-', '+']);
            let parts: Vec<&str> = w.split(':').collect();
            if parts.len() != 3 {
                return None;
            }
            let hours: i128 = parts[0].parse().ok()?;
            let minutes: i128 = parts[1].parse().ok()?;
            let (secs, frac) = parts[2].split_once('.').unwrap_or((parts[2], ""));
            let secs: i128 = secs.parse().ok()?;
            let frac: i128 = if frac.is_empty() { 0 } else { format!("{frac:0<6}")[..6].parse().ok()? };
            let total = ((hours * 60 + minutes) * 60 + secs) * 1_000_000 + frac;
            micros += if neg { -total } else { total };
            i += 1;
            continue;
        }
        let n: i128 = word.parse().ok()?;
        let unit = words.get(i + 1)?.trim_end_matches('s');
        match unit {
            "year" => months += n * 12,
            "mon" | "month" => months += n,
            "day" => days += n,
            "hour" => micros += n * 3_600_000_000,
            "min" | "minute" => micros += n * 60_000_000,
            "sec" | "second" => micros += n * 1_000_000,
            _ => return None,
        }
        i += 2;
    }
    Some((months, days, micros))
}

/// The bytes of a BLOB as DuckDB prints it: printable ASCII as itself, every
/// other byte as `\xHH`.
pub fn duckdb_blob_bytes(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() + 1 {
            if let Ok(byte) = u8::from_str_radix(&text[i + 2..(i + 4).min(text.len())], 16) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let hex = text.trim().strip_prefix("\\x").unwrap_or(text.trim());
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

/// JSON documents that mean the same: equal after parsing, object keys in
/// any order, numbers compared as decimals.
fn same_json(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Num(x), Json::Num(y)) => canonical_decimal(x) == canonical_decimal(y) || x == y,
        (Json::Arr(x), Json::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (Json::Obj(x), Json::Obj(y)) => {
            let mut x = x.clone();
            let mut y = y.clone();
            x.sort_by(|p, q| p.0.cmp(&q.0));
            y.sort_by(|p, q| p.0.cmp(&q.0));
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.0 == q.0 && same_json(&p.1, &q.1))
        }
        _ => a == b,
    }
}

fn compare_leaf(kind: &str, src: &str, alt: &Alt, leaf: &str, got: &Json) -> Result<(), String> {
    let base = base_name(leaf);
    let text = got_text(got);
    let differ = || Err(format!("{src:?} arrived as {got} ({leaf})"));
    if kind == "inet" && matches!(got, Json::Str(_)) {
        // An inet without a netmask is a host (/32, /128): `::1` and `::1/128` are one value,
        // which PostgreSQL prints either way (its output leaves the host's mask out, `::text` does not).
        let full = |t: &str| match t.contains('/') {
            true => t.to_string(),
            false => format!("{t}/{}", if t.contains(':') { 128 } else { 32 }),
        };
        return if full(src) == full(&text) { Ok(()) } else { differ() };
    }
    if kind == "money" {
        // PostgreSQL's money text is formatted per lc_monetary (`-$1,234.56`): only a number is its value.
        let number: String = src.chars().filter(|c| c.is_ascii_digit() || matches!(c, '-' | '.')).collect();
        return match base.as_str() {
            "DECIMAL" | "BIGINT" | "HUGEINT" | "INTEGER" => {
                compare_numbers("exact", &number, &text).map_err(|e| format!("{e} ({leaf})"))
            }
            _ => Err(format!("{src:?} arrived as {got} ({leaf}): money as formatted text, not a number")),
        };
    }
    match base.as_str() {
        "BOOLEAN" => {
            let want = match src.trim() {
                "t" | "true" => Some(true),
                "f" | "false" => Some(false),
                "1" if kind.ends_with("bool") => Some(true),
                "0" if kind.ends_with("bool") => Some(false),
                _ => None,
            };
            match (want, got) {
                (Some(w), Json::Bool(g)) if w == *g => Ok(()),
                _ => differ(),
            }
        }
        "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "HUGEINT" | "UTINYINT" | "USMALLINT" | "UINTEGER"
        | "UBIGINT" | "UHUGEINT" | "DECIMAL" | "VARINT" | "BIGNUM" => {
            compare_numbers("exact", src, &text).map_err(|e| format!("{e} ({leaf})"))
        }
        "FLOAT" | "DOUBLE" => compare_numbers(kind, src, &text).map_err(|e| format!("{e} ({leaf})")),
        "DATE"
        | "TIMESTAMP"
        | "TIMESTAMP_S"
        | "TIMESTAMP_MS"
        | "TIMESTAMP_NS"
        | "TIMESTAMP WITH TIME ZONE"
        | "TIME"
        | "TIME_NS"
        | "TIME WITH TIME ZONE" => {
            if text.contains("infinity") {
                return Err(format!(
                    "{src:?} arrived as {text:?} ({leaf}): DuckDB's infinity sentinel, which other readers reject"
                ));
            }
            if canonical_datetime(src) == canonical_datetime(&text) {
                Ok(())
            } else {
                differ()
            }
        }
        "INTERVAL" => match (parse_interval(src), parse_interval(&text)) {
            (Some(a), Some(b)) if a == b => Ok(()),
            _ => differ(),
        },
        "BLOB" => {
            let got_bytes = duckdb_blob_bytes(&text);
            let want = if kind.ends_with("geometry") {
                alt.wkb_hex.as_deref().and_then(hex_bytes)
            } else if kind == "bytea" || kind.ends_with("hex") {
                hex_bytes(src)
            } else {
                Some(src.as_bytes().to_vec())
            };
            if want.as_deref() == Some(&got_bytes[..]) {
                Ok(())
            } else {
                differ()
            }
        }
        "UUID" => {
            if src.eq_ignore_ascii_case(&text) {
                Ok(())
            } else {
                differ()
            }
        }
        _ => {
            if src == text || kind == "bpchar" && src.trim_end_matches(' ') == text.trim_end_matches(' ') {
                return Ok(());
            }
            // Dates, times and durations kept as text (MariaDB's TIME): the same spelling rules as above.
            let temporal = ["date", "time", "timetz", "datetime", "timestamp", "timestamptz"].contains(&kind);
            if temporal && canonical_datetime(src) == canonical_datetime(&text) {
                return Ok(());
            }
            if kind == "interval" && parse_interval(src).is_some() && parse_interval(src) == parse_interval(&text) {
                return Ok(());
            }
            if kind.contains("json") {
                if let (Ok(a), Ok(b)) = (parse_json(src), parse_json(&text)) {
                    if same_json(&a, &b) {
                        return Ok(());
                    }
                }
            }
            differ()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_by_value() {
        assert_eq!(canonical_decimal("1.50"), canonical_decimal("1.5"));
        assert_eq!(canonical_decimal("15e-1"), canonical_decimal("1.5"));
        assert_eq!(canonical_decimal("-0.00"), canonical_decimal("0"));
        assert_ne!(canonical_decimal("12345678901234567890.1"), canonical_decimal("1.2345678901234567e19"));
        assert_eq!(canonical_decimal("0.001"), canonical_decimal("1e-3"));
    }

    #[test]
    fn an_inet_host_with_or_without_its_full_netmask_is_one_value() {
        let same = |src: &str, got: &str| {
            compare(
                &Shape::Leaf("inet".into()),
                ',',
                Some(src),
                &Alt::default(),
                &parse_dtype("VARCHAR"),
                &Json::Str(got.into()),
            )
            .is_ok()
        };
        assert!(same("::1", "::1/128") && same("::1/128", "::1") && same("10.1.2.3", "10.1.2.3/32"));
        assert!(!same("10.0.0.0/8", "10.0.0.0") && !same("10.1.2.3", "10.1.2.4/32"));
    }

    #[test]
    fn datetimes_in_one_spelling() {
        assert_eq!(canonical_datetime("2024-01-01T01:02:03.500+00:00"), "2024-01-01 01:02:03.5+00");
        assert_eq!(canonical_datetime("0001-12-22 (BC)"), canonical_datetime("0001-12-22 BC"));
        assert_eq!(canonical_datetime("12:34:56.789+02"), canonical_datetime("12:34:56.789+02:00"));
        assert_eq!(canonical_datetime("2024-02-29"), "2024-02-29");
    }

    #[test]
    fn intervals_as_months_days_micros() {
        assert_eq!(
            parse_interval("1 year 2 mons 3 days 04:05:06.789"),
            parse_interval("1 year 2 months 3 days 04:05:06.789")
        );
        assert_eq!(parse_interval("1194:00:00"), Some((0, 0, 1194 * 3_600_000_000)));
        assert_ne!(parse_interval("1194:00:00"), parse_interval("00:57:00"));
    }

    #[test]
    fn literals_and_json() {
        let shape = Shape::Array(Box::new(Shape::Leaf("numeric".into())));
        let dtype = parse_dtype("DECIMAL(10,2)[]");
        let got = parse_json("[0.0,1.5]").unwrap();
        assert!(compare(&shape, ',', Some("{NaN,1.50}"), &Alt::default(), &dtype, &got).is_err());
        let got = parse_json("[null,1.5]").unwrap();
        assert!(compare(&shape, ',', Some("{NULL,1.50}"), &Alt::default(), &dtype, &got).is_ok());
        let rec =
            Shape::Record(vec![("f".into(), Shape::Leaf("text".into())), ("g".into(), Shape::Leaf("int4".into()))]);
        let dtype = parse_dtype("STRUCT(f VARCHAR, g INTEGER)");
        let got = parse_json(r#"{"f":"a \"b\"","g":null}"#).unwrap();
        assert!(compare(&rec, ',', Some(r#"("a ""b""",)"#), &Alt::default(), &dtype, &got).is_ok());
        assert_eq!(
            parse_json("[NaN,-Infinity]").unwrap(),
            Json::Arr(vec![Json::Num("NaN".into()), Json::Num("-Infinity".into())])
        );
    }
}
