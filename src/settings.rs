//! Every setting the connector reads, joined from the areas that define and
//! parse them (each with `define_settings!`, see `setting.rs`). The
//! documentation (README tables, examples/.env.example, the Helm chart's
//! refusal list, the man page) is checked against or made from this list.
//!
//! To add a setting:
//! 1. one line in its area's `define_settings!` block — `NAME: default,
//!    "doc"[, secret][, chart_managed];` (the doc line goes into the man page);
//! 2. its parsing in the same file's `Area::parse` (`area.rs`), into the
//!    area's typed settings (a problem with `p.add(&NAME, …)`), and its test there;
//! 3. a row in README.md's and README.de.md's tables and a line in
//!    `examples/.env.example` — the tests below name whatever is missing. A
//!    secret also gets `NAME_FILE` and must be refused by the chart's `config`.
//!
//! A new area (a new `define_settings!` block) goes into [`AREAS`]; a test
//! fails until it does.

use std::sync::LazyLock;

pub use crate::setting::{Setting, WhenUnset};

/// Each area's settings, by the file that defines them, in the order of the documentation.
pub const AREAS: [(&str, &[Setting]); 8] = [
    ("src/polyteia/settings.rs", crate::polyteia::settings::SETTINGS),
    ("src/source/settings.rs", crate::source::settings::SETTINGS),
    ("src/source/export_settings.rs", crate::source::export_settings::SETTINGS),
    ("src/pseudonym/settings.rs", crate::pseudonym::settings::SETTINGS),
    ("src/network/settings.rs", crate::network::settings::SETTINGS),
    ("src/metrics/settings.rs", crate::metrics::settings::SETTINGS),
    ("src/logging.rs", crate::logging::SETTINGS),
    ("src/cron.rs", crate::cron::SETTINGS),
];

/// Every setting.
pub static ALL: LazyLock<Vec<Setting>> =
    LazyLock::new(|| AREAS.iter().flat_map(|(_, area)| area.iter().copied()).collect());

/// Whether `name` is one of ours (a setting or a secret's `_FILE`).
pub fn is_known(name: &str) -> bool {
    ALL.iter().any(|s| s.name == name || s.file_variant().as_deref() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_upper_case() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')));
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a setting is listed twice");
    }

    #[test]
    fn every_area_is_listed() {
        // Every file that defines settings, found in the source tree.
        fn walk(dir: &std::path::Path, root: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let defines = text.lines().any(|l| l.trim_start().starts_with("define_settings! {"));
                    if defines {
                        // `/` also on Windows, as AREAS names them.
                        found.push(path.strip_prefix(root).unwrap().display().to_string().replace('\\', "/"));
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        walk(&root.join("src"), root, &mut found);
        found.sort();
        let mut listed: Vec<String> = AREAS.iter().map(|(file, _)| file.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed, "settings::AREAS and the files with define_settings! differ");
    }

    #[test]
    fn every_default_value_is_accepted() {
        // Settings with a default value, and nothing else: the defaults parse.
        let env = crate::env::Env::from_pairs([
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
            ("PERSONAL_ACCESS_TOKEN", "pak_x"),
            ("DATASET_ID", "ds_1"),
        ]);
        let config = crate::config::ScheduleConfig::from_env(&env).unwrap();
        use crate::cron::{CRON_SCHEDULE, HEALTH_CHECK_PORT};
        use crate::polyteia::settings::UPLOAD_MAX_ATTEMPTS;
        use crate::source::settings::SOURCE_CONNECT_MAX_ATTEMPTS;
        assert_eq!(config.schedule.expression(), CRON_SCHEDULE.default_value().unwrap());
        assert_eq!(config.run.health_check_port.to_string(), HEALTH_CHECK_PORT.default_value().unwrap());
        assert_eq!(config.run.api.retry.attempts.to_string(), UPLOAD_MAX_ATTEMPTS.default_value().unwrap());
        assert_eq!(
            config.run.export.connect_retry.attempts.to_string(),
            SOURCE_CONNECT_MAX_ATTEMPTS.default_value().unwrap()
        );
        assert_eq!(config.run.api.http_timeout, std::time::Duration::from_secs(60));
        assert_eq!(config.run.api.ingest_timeout, std::time::Duration::from_secs(30 * 60));
    }

    #[test]
    fn secrets_have_a_file_variant() {
        assert!(is_known("PERSONAL_ACCESS_TOKEN_FILE"));
        assert!(is_known("SOURCE_DATABASE_PASSWORD_FILE"));
        assert!(!is_known("DATASET_ID_FILE"));
    }

    /// The documentation agrees with this table: a setting added, renamed or
    /// given another default here fails these until the
    /// README tables (English and German), examples/.env.example and the Helm
    /// chart's refusal list say the same.
    mod documentation {
        use super::super::*;
        use std::collections::{BTreeMap, BTreeSet};

        fn read(path: &str) -> String {
            let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        }

        /// `NAME` → the row's cells, for every table row whose first cell names variables.
        fn variable_rows(markdown: &str) -> BTreeMap<String, Vec<String>> {
            let mut rows = BTreeMap::new();
            for line in markdown.lines().filter(|l| l.starts_with("| `")) {
                let cells: Vec<String> =
                    line.split(" | ").map(|c| c.trim_matches(|c| c == '|' || c == ' ').to_string()).collect();
                for name in backticked_names(&cells[0]) {
                    rows.insert(name, cells.clone());
                }
            }
            rows
        }

        fn backticked_names(cell: &str) -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                })
                .map(str::to_string)
                .collect()
        }

        fn check_readme(path: &str, required_word: &str) {
            let rows = variable_rows(&read(path));
            let mut problems = Vec::new();
            for setting in ALL.iter() {
                let Some(cells) = rows.get(setting.name) else {
                    problems.push(format!("{path}: no table row for {}", setting.name));
                    continue;
                };
                let row = cells.join(" | ");
                let default = cells.get(1).map(String::as_str).unwrap_or("");
                match setting.default {
                    WhenUnset::Value(value) if !default.contains(&format!("`{value}`")) => problems.push(format!(
                        "{path}: {}'s default should read `{value}`, the row says: {default}",
                        setting.name
                    )),
                    WhenUnset::Required(_) if !default.to_lowercase().contains(required_word) => {
                        problems.push(format!("{path}: {} should be marked {required_word}: {default}", setting.name))
                    }
                    _ => {}
                }
                if let Some(file) = setting.file_variant() {
                    if !row.contains(&file) {
                        problems.push(format!("{path}: {}'s row should mention {file}", setting.name));
                    }
                }
            }
            for name in rows.keys() {
                if !is_known(name) {
                    problems.push(format!("{path}: table row for {name}, which the connector does not read"));
                }
            }
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }

        #[test]
        fn the_english_readme_lists_every_setting_with_its_default() {
            check_readme("README.md", "required");
        }

        #[test]
        fn the_german_readme_lists_every_setting_with_its_default() {
            check_readme("README.de.md", "pflicht");
        }

        #[test]
        fn the_env_example_shows_every_setting_and_its_default() {
            let text = read("examples/.env.example");
            let mut shown: BTreeMap<String, String> = BTreeMap::new();
            for line in text.lines() {
                let line = line.trim_start_matches('#').trim();
                if let Some((name, value)) = line.split_once('=') {
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                    {
                        shown.entry(name.to_string()).or_insert_with(|| value.to_string());
                    }
                }
            }
            let mut problems = Vec::new();
            for setting in ALL.iter() {
                let names = std::iter::once(setting.name.to_string()).chain(setting.file_variant());
                for name in names {
                    if !shown.contains_key(&name) {
                        problems.push(format!("examples/.env.example does not show {name}"));
                    }
                }
                if let (Some(default), Some(value)) = (setting.default_value(), shown.get(setting.name)) {
                    if !value.is_empty() && value != default && !text.contains(&format!("# {}={default}", setting.name))
                    {
                        problems.push(format!(
                            "examples/.env.example shows {}={value}, the default is {default}",
                            setting.name
                        ));
                    }
                }
            }
            for name in shown.keys() {
                if !is_known(name) {
                    problems.push(format!("examples/.env.example shows {name}, which the connector does not read"));
                }
            }
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }

        #[test]
        fn the_chart_refuses_exactly_the_secrets_and_its_own_settings() {
            let schema: serde_json::Value =
                serde_json::from_str(&read("charts/polyteia-db-connector/values.schema.json")).unwrap();
            let refused: BTreeSet<String> = schema
                .pointer("/properties/config/propertyNames/not/enum")
                .and_then(|v| v.as_array())
                .expect("config.propertyNames.not.enum in the chart's schema")
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let wanted: BTreeSet<String> = ALL
                .iter()
                .filter(|s| s.secret || s.chart_managed)
                .flat_map(|s| std::iter::once(s.name.to_string()).chain(s.file_variant()))
                .collect();
            assert_eq!(refused, wanted);
        }
    }
}
