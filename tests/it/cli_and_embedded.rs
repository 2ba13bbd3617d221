//! The command line, configuration errors, logging formats, and the embedded
//! source types (DuckDB and SQLite files) that need no server.

use std::path::{Path, PathBuf};

use crate::common::*;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn quickstart_exports_the_shipped_sample() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("quickstart.parquet");
    let run = connector_in(
        &repo_root(),
        &["export", "--env-file", "examples/quickstart.env", "--output", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.contains("export finished: 12 rows, 8 columns"), "{}", run.stderr);

    let csv = std::fs::read_to_string(repo_root().join("examples/data/service_requests.csv")).unwrap();
    let expected: Vec<Vec<Option<String>>> = csv
        .lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .enumerate()
                .map(|(i, v)| match (i, v) {
                    (_, "") => None,
                    // DuckDB reads the timestamps as TIMESTAMP and prints them the same way.
                    (7, v) => Some(format!("{:.2}", v.parse::<f64>().unwrap())),
                    (_, v) => Some(v.to_string()),
                })
                .collect()
        })
        .collect();
    let mut actual = parquet_rows(&file);
    for row in &mut actual {
        if let Some(cost) = &row[7] {
            row[7] = Some(format!("{:.2}", cost.parse::<f64>().unwrap()));
        }
    }
    assert_eq!(actual, expected);
}

#[test]
fn every_configuration_problem_is_listed_in_one_line() {
    let run = connector(
        &["export", "--output", "/tmp/never.parquet"],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "postgres"),
            ("SOURCE_DATABASE_PORT", "eighty"),
            ("LOG_FORMAT", "yaml"),
            ("PARQUET_COMPRESSION", "brotli"),
            ("DUCKDB_THREADS", "-2"),
        ]),
    );
    assert_eq!(run.code, 3, "{}", run.output());
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    for var in [
        "SOURCE_DATABASE_PORT: 'eighty' is not a port number",
        "LOG_FORMAT: 'yaml'",
        "PARQUET_COMPRESSION: 'brotli'",
        "DUCKDB_THREADS: '-2'",
        "SOURCE_DATABASE_HOST: is required",
        "SOURCE_DATABASE_USER: is required",
        "SOURCE_DATABASE_NAME: is required",
        "SOURCE_DATABASE_SQL_QUERY: is required",
    ] {
        assert!(errors[0].contains(var), "missing {var:?} in {}", errors[0]);
    }
    assert!(errors[0].contains("configuration has 8 problems"), "{}", errors[0]);
}

#[test]
fn a_missing_env_file_is_a_configuration_error() {
    let run = connector(&["export", "--env-file", "/nonexistent/x.env", "--output", "/tmp/x.parquet"], &[]);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("cannot read env file /nonexistent/x.env"), "{}", run.stderr);
}

#[test]
fn a_utf16_env_file_is_refused_and_a_notepad_utf8_one_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        "SOURCE_DATABASE_TYPE=duckdb\r\nSOURCE_DATABASE_NAME=:memory:\r\nSOURCE_DATABASE_SQL_QUERY='SELECT 5 AS n'\r\n";
    let file = dir.path().join("out.parquet");
    let env_file = dir.path().join("connector.env");
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(settings.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(&env_file, utf16).unwrap();
    let run = connector(&["export", "--env-file", env_file.to_str().unwrap(), "--output", file.to_str().unwrap()], &[]);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("it is UTF-16") && run.stderr.contains("save it as UTF-8"), "{}", run.stderr);
    assert!(!file.exists());
    std::fs::write(&env_file, format!("\u{feff}{settings}")).unwrap();
    let run = connector(&["export", "--env-file", env_file.to_str().unwrap(), "--output", file.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![vec![Some("5".to_string())]]);
}

#[test]
fn log_file_gets_every_line_and_an_unusable_one_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("connector.log");
    let file = dir.path().join("out.parquet");
    std::fs::write(&log, "an earlier line\n").unwrap();
    let vars = with(memory_source("SELECT 1 AS one"), &[("LOG_FILE", log.to_str().unwrap())]);
    let run = connector(&["export", "--output", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged, format!("an earlier line\n{}", run.stderr), "appended, the same lines as stderr");
    assert!(logged.contains("export finished") || logged.lines().count() > 1, "{logged}");

    let missing = dir.path().join("no such dir").join("connector.log");
    let vars = with(vars, &[("LOG_FILE", missing.to_str().unwrap()), ("PARQUET_COMPRESSION", "lz5")]);
    let run = connector(&["export", "--output", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("LOG_FILE: cannot open") && run.stderr.contains("PARQUET_COMPRESSION"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_environment_wins_over_the_env_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "SOURCE_DATABASE_TYPE=duckdb\nSOURCE_DATABASE_NAME=:memory:\nSOURCE_DATABASE_SQL_QUERY='SELECT 1 AS from_file'\n",
    )
    .unwrap();
    let file = dir.path().join("out.parquet");
    // ./.env is read by default …
    let run = connector_in(dir.path(), &["export", "--output", file.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_columns(&file)[0].0, "from_file");
    // … and a variable in the environment overrides it.
    let run = connector_in(
        dir.path(),
        &["export", "--output", file.to_str().unwrap()],
        &env(&[("SOURCE_DATABASE_SQL_QUERY", "SELECT 2 AS from_env")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_columns(&file)[0].0, "from_env");
    assert_eq!(parquet_rows(&file), vec![vec![Some("2".to_string())]]);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.parquet");
    let run = connector(
        &["export", "--log-format", "json", "--output", file.to_str().unwrap()],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM range(5) t(n)"),
        ]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    let lines: Vec<serde_json::Value> =
        run.stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line["timestamp"].is_string() && line["level"].is_string() && line["message"].is_string(), "{line}");
    }
    let summary = lines.iter().find(|l| l["message"].as_str().unwrap().starts_with("export finished")).unwrap();
    assert_eq!(summary["rows"], 5);
    assert_eq!(summary["columns"], 1);
    assert!(summary["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn errors_in_json_mode_carry_the_exit_code() {
    let run = connector(
        &["export", "--log-format", "json", "--output", "/tmp/x.parquet"],
        &env(&[("SOURCE_DATABASE_TYPE", "nosuchdb")]),
    );
    assert_eq!(run.code, 3);
    let line: serde_json::Value = serde_json::from_str(run.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["exit_code"], 3);
    assert_eq!(line["error_class"], "config");
}

#[test]
fn version_and_help_work_and_show_no_secret() {
    let secrets =
        env(&[("PERSONAL_ACCESS_TOKEN", "pak_help_secret_123"), ("SOURCE_DATABASE_PASSWORD", "pw_help_secret")]);
    let run = connector(&["version"], &secrets);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with(&format!("connector {}", env!("CARGO_PKG_VERSION"))), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("DuckDB {DUCKDB_VERSION}")), "{}", run.stdout);
    if cfg!(feature = "bundled") {
        assert!(run.stdout.contains("bundled: compiled into this binary"), "{}", run.stdout);
    } else {
        // The library beside the binary, found without LD_LIBRARY_PATH (the test
        // harness sets none; build.rs gives the binary its run-time search path).
        let beside = std::path::Path::new(env!("CARGO_BIN_EXE_connector")).with_file_name("libduckdb.so");
        let beside = beside.canonicalize().expect("libduckdb.so beside the binary");
        assert!(
            run.stdout.trim_end().ends_with(&format!("official shared library {})", beside.display())),
            "{}",
            run.stdout
        );
    }
    for args in [vec!["--help"], vec!["export", "--help"]] {
        let run = connector(&args, &secrets);
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("Usage"), "{}", run.stdout);
        assert_no_secret(&run.output(), &["pak_help_secret_123", "pw_help_secret"]);
    }
    let run = connector(&["frobnicate"], &[]);
    assert_eq!(run.code, 2, "usage errors use clap's code");
}

#[test]
fn completions_are_printed_for_each_shell_without_reading_settings() {
    // Settings are not read: a missing env file would otherwise be exit code 3.
    let missing_env_file = ["--env-file", "/nonexistent/connector.env"];
    for (shell, marker) in [("bash", "_connector()"), ("zsh", "#compdef connector"), ("fish", "complete -c connector")]
    {
        let run = connector(&[&missing_env_file[..], &["completions", shell]].concat(), &[]);
        assert_eq!(run.code, 0, "{shell}: {}", run.output());
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        for command in ["run", "export", "check", "schedule", "completions"] {
            assert!(run.stdout.contains(command), "{shell} completion lacks {command}");
        }
        assert!(run.stderr.is_empty(), "{shell}: {}", run.stderr);
    }
    let run = connector(&["completions", "tcsh"], &[]);
    assert_eq!(run.code, 2, "{}", run.output());
    assert!(run.stderr.contains("possible values: bash, elvish, fish, powershell, zsh"), "{}", run.stderr);
}

#[test]
fn exports_from_a_duckdb_file_by_bare_table_name() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("source.duckdb");
    {
        let conn = duckdb::Connection::open(&db_file).unwrap();
        conn.execute_batch(
            "CREATE TABLE permits (id INTEGER, kind VARCHAR); INSERT INTO permits VALUES (1, 'Bau'), (2, 'Gewerbe');",
        )
        .unwrap();
    }
    let file = dir.path().join("out.parquet");
    let run = connector(
        &["export", "--output", file.to_str().unwrap()],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", db_file.to_str().unwrap()),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM permits ORDER BY id"),
        ]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        parquet_rows(&file),
        vec![vec![Some("1".into()), Some("Bau".into())], vec![Some("2".into()), Some("Gewerbe".into())]]
    );
}

fn make_sqlite(path: &Path) {
    let config = duckdb::Config::default()
        .with("extension_directory", extension_dir().to_str().unwrap())
        .unwrap()
        .with("autoinstall_known_extensions", "false")
        .unwrap();
    let conn = duckdb::Connection::open_in_memory_with_flags(config).unwrap();
    conn.execute_batch(&format!(
        "LOAD sqlite_scanner; ATTACH '{}' AS s (TYPE sqlite); \
         CREATE TABLE s.trees (id INTEGER, species VARCHAR, height DOUBLE); \
         INSERT INTO s.trees VALUES (1, 'Linde', 17.5), (2, 'Eiche', NULL);",
        path.display()
    ))
    .unwrap();
}

#[test]
fn exports_from_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("source.sqlite");
    make_sqlite(&db_file);
    let file = dir.path().join("out.parquet");
    let run = connector(
        &["export", "--output", file.to_str().unwrap()],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "sqlite"),
            ("SOURCE_DATABASE_NAME", db_file.to_str().unwrap()),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT * FROM db.trees ORDER BY id;"),
        ]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(
        parquet_rows(&file),
        vec![
            vec![Some("1".into()), Some("Linde".into()), Some("17.5".into())],
            vec![Some("2".into()), Some("Eiche".into()), None],
        ]
    );
}

#[test]
fn a_missing_extension_says_how_to_provide_it() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let db_file = out.path().join("s.sqlite");
    make_sqlite(&db_file);
    let run = connector(
        &["export", "--output", out.path().join("o.parquet").to_str().unwrap()],
        &env(&[
            ("DUCKDB_EXTENSION_DIRECTORY", empty.path().to_str().unwrap()),
            ("SOURCE_DATABASE_TYPE", "sqlite"),
            ("SOURCE_DATABASE_NAME", db_file.to_str().unwrap()),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
        ]),
    );
    assert_eq!(run.code, 9, "{}", run.output());
    assert!(run.stderr.contains("DuckDB extension sqlite_scanner is missing"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{DUCKDB_VERSION}/linux_amd64/sqlite_scanner.duckdb_extension")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("scripts/fetch-extensions"), "{}", run.stderr);
}

#[test]
fn a_missing_output_directory_is_a_local_io_error() {
    let run = connector(
        &["export", "--output", "/nonexistent-dir/out.parquet"],
        &env(&[
            ("SOURCE_DATABASE_TYPE", "duckdb"),
            ("SOURCE_DATABASE_NAME", ":memory:"),
            ("SOURCE_DATABASE_SQL_QUERY", "SELECT 1"),
        ]),
    );
    assert_eq!(run.code, 7, "{}", run.output());
    assert!(run.stderr.contains("output directory /nonexistent-dir does not exist"), "{}", run.stderr);
}

#[test]
fn the_work_directory_is_removed_on_success_and_failure() {
    let temp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for (query, code) in [("SELECT 42 AS answer", 0), ("SELECT * FROM no_such_table", 5)] {
        let run = connector(
            &["export", "--output", out.path().join("o.parquet").to_str().unwrap()],
            &env(&[
                ("TEMP_DIR", temp.path().to_str().unwrap()),
                ("SOURCE_DATABASE_TYPE", "duckdb"),
                ("SOURCE_DATABASE_NAME", ":memory:"),
                ("SOURCE_DATABASE_SQL_QUERY", query),
            ]),
        );
        assert_eq!(run.code, code, "{}", run.output());
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "work directory left in TEMP_DIR");
    }
}

#[test]
fn secrets_from_files_are_used_and_never_shown() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (5);");
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("db-password");
    std::fs::write(&pw_file, format!("{}\n", db.password)).unwrap();
    let mut vars = db.env("SELECT * FROM db.t");
    vars.retain(|(k, _)| k != "SOURCE_DATABASE_PASSWORD");
    vars.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), pw_file.display().to_string()));
    vars.push(("LOG_LEVEL".into(), "debug".into()));
    let file = dir.path().join("out.parquet");
    let run = connector(&["export", "--output", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![vec![Some("5".to_string())]]);
    assert_no_secret(&run.output(), &[&db.password]);
}

/// Writes `KEY="value"` lines, escaped so that every value (the awkward
/// password too) reads back exactly.
fn write_env_file(path: &Path, pairs: &[(String, String)]) {
    let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
    let text: String = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"\n", escape(v))).collect();
    std::fs::write(path, text).unwrap();
}

/// A shared file with the connection settings and a job file with the query,
/// as a crontab line per table uses them.
fn layered_env_files(db: &PgDatabase, dir: &Path, extra: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let common = dir.join("common.env");
    write_env_file(&common, &with(db.env("SELECT 'from common' AS origin"), extra));
    let job = dir.join("permits.env");
    write_env_file(&job, &env(&[("SOURCE_DATABASE_SQL_QUERY", "SELECT id, kind FROM db.permits ORDER BY id")]));
    (common, job)
}

fn permits_table(db: &PgDatabase) {
    db.exec(
        "CREATE TABLE permits (id int, kind text); INSERT INTO permits VALUES (1, 'Bau'), (2, 'Gewerbe'); \
         CREATE TABLE licences (id int); INSERT INTO licences VALUES (7);",
    );
}

#[test]
fn later_env_files_win_and_the_environment_wins_over_all() {
    let db = PgDatabase::create();
    permits_table(&db);
    let dir = tempfile::tempdir().unwrap();
    let (common, job) = layered_env_files(&db, dir.path(), &[]);
    let (common, job) = (common.to_str().unwrap(), job.to_str().unwrap());
    let out = dir.path().join("out.parquet");
    let out = out.to_str().unwrap();

    // The job file's query wins; the connection settings come from the shared file alone.
    let run = connector(&["export", "--env-file", common, "--env-file", job, "--output", out], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_no_secret(&run.output(), &[&db.password]);
    assert_eq!(
        parquet_rows(Path::new(out)),
        vec![vec![Some("1".into()), Some("Bau".into())], vec![Some("2".into()), Some("Gewerbe".into())]]
    );

    // Order decides, not the file names: the last file given wins.
    let run = connector(&["export", "--env-file", job, "--env-file", common, "--output", out], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(Path::new(out)), vec![vec![Some("from common".into())]]);

    // The process environment wins over both files.
    let run = connector(
        &["export", "--env-file", common, "--env-file", job, "--output", out],
        &env(&[("SOURCE_DATABASE_SQL_QUERY", "SELECT id FROM db.licences")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(Path::new(out)), vec![vec![Some("7".into())]]);
}

#[test]
fn a_missing_second_env_file_is_a_configuration_error_naming_it() {
    let db = PgDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let (common, _) = layered_env_files(&db, dir.path(), &[]);
    let missing = dir.path().join("jobs/permits.env");
    for command in [vec!["export", "--output", "/tmp/never.parquet"], vec!["run"], vec!["check"]] {
        let mut args = vec!["--env-file", common.to_str().unwrap(), "--env-file", missing.to_str().unwrap()];
        args.extend(&command);
        let run = connector(&args, &[]);
        assert_eq!(run.code, 3, "{command:?}: {}", run.output());
        let errors: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(
            errors[0].contains(&format!("cannot read env file {}: No such file", missing.display())),
            "{}",
            errors[0]
        );
        assert!(!errors[0].contains("common.env"), "the readable file is not blamed: {}", errors[0]);
        assert_no_secret(&run.output(), &[&db.password]);
    }
}

#[test]
fn check_and_run_log_which_env_files_they_read() {
    const PAK: &str = "pak_layered_secret_41c7";
    let db = PgDatabase::create();
    permits_table(&db);
    // Any key is refused: enough to see that check and run got past reading the settings.
    let api = crate::common::mock_api::MockApi::start(|_, _| (401, r#"{"error": {"message": "invalid key"}}"#.into()));
    let dir = tempfile::tempdir().unwrap();
    let (common, job) = layered_env_files(
        &db,
        dir.path(),
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("POLYTEIA_ORGANIZATION_ID", "org_1"),
            ("DATASET_ID", "ds_1"),
        ],
    );
    let files_line = format!("settings from env files {}, {} (later wins)", common.display(), job.display());
    let layered = ["--env-file", common.to_str().unwrap(), "--env-file", job.to_str().unwrap()];

    let run = connector(&[&layered[..], &["check"]].concat(), &[]);
    assert_eq!(run.code, 14, "{}", run.output());
    assert!(run.stderr.contains(&files_line), "{}", run.stderr);
    assert!(run.stderr.contains("PASS source query: valid, 2 columns: id INTEGER, kind VARCHAR"), "{}", run.stderr);
    assert_no_secret(&run.output(), &[PAK, &db.password]);

    let run = connector(&[&layered[..], &["run"]].concat(), &[]);
    assert_eq!(run.code, 10, "{}", run.output());
    assert!(run.stderr.contains(&files_line), "{}", run.stderr);
    assert_no_secret(&run.output(), &[PAK, &db.password]);

    // Without a file, the log says so.
    let vars = with(
        db.env("SELECT 1"),
        &[("PERSONAL_ACCESS_TOKEN", PAK), ("POLYTEIA_BASE_URL", &api.url), ("DATASET_ID", "ds_1")],
    );
    let run = connector(&["check"], &vars);
    assert!(run.stderr.contains("settings from the environment only (no env file read)"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------
// A query in quotes (issue 16, item 1)

/// `docker run --env-file` reads a file its own way: a line is `KEY=VALUE`
/// with the value taken literally (quotes kept, no comment after it), `#`
/// starts a comment line, a line with a bare `KEY` passes the host's value.
fn read_like_docker_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) =
                line.split_once('=').unwrap_or_else(|| panic!("docker would pass {line:?} from the host"));
            assert!(!key.contains(char::is_whitespace), "docker refuses the key {key:?}");
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn a_query_in_surrounding_quotes_is_unquoted_whatever_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.parquet");
    // As `docker run --env-file`, Kubernetes or compose pass a value pasted with quotes.
    for query in ["'SELECT 42 AS answer'", "\"SELECT 42 AS answer;\"", "  'SELECT 42 AS answer'  "] {
        let vars = with(memory_source(query), &[("LOG_LEVEL", "debug")]);
        let run = connector(&["export", "--output", file.to_str().unwrap()], &vars);
        assert_eq!(run.code, 0, "{query}: {}", run.output());
        assert_eq!(parquet_rows(&file), vec![vec![Some("42".to_string())]], "{query}");
        let note = run.stderr.lines().find(|l| l.contains("DEBUG") && l.contains("SOURCE_DATABASE_SQL_QUERY"));
        assert!(note.is_some_and(|l| l.contains("quotes")), "no debug line about the removed quotes:\n{}", run.stderr);
    }
    // From a .env file whose value keeps a pair of quotes after its own unquoting.
    std::fs::write(dir.path().join(".env"), "SOURCE_DATABASE_TYPE=duckdb\nSOURCE_DATABASE_NAME=:memory:\nSOURCE_DATABASE_SQL_QUERY=\"'SELECT 7 AS seven'\"\n").unwrap();
    let run = connector_in(dir.path(), &["export", "--output", file.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![vec![Some("7".to_string())]]);
    // Quotes inside the query are the query's own.
    let run = connector(&["export", "--output", file.to_str().unwrap()], &memory_source("SELECT 'a' || 'b' AS ab"));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![vec![Some("ab".to_string())]]);
}

#[test]
fn the_env_example_reads_the_same_with_our_parser_and_docker_env_file() {
    use connector::config::{Env, ExportConfig};
    let example = repo_root().join("examples/.env.example");
    let docker = read_like_docker_env_file(&std::fs::read_to_string(&example).unwrap());
    let ours = Env::load(std::slice::from_ref(&example)).unwrap();
    for (key, value) in &docker {
        if key == "SOURCE_DATABASE_SQL_QUERY" {
            continue;
        }
        let value = Some(value.as_str()).filter(|v| !v.trim().is_empty());
        // The test's own environment (DUCKDB_EXTENSION_DIRECTORY) wins over the file.
        if std::env::var_os(key).is_none() {
            assert_eq!(ours.get(key), value, "{key} reads differently under docker run --env-file");
        }
    }
    let docker_config = ExportConfig::from_env(&Env::from_pairs(docker.clone())).unwrap();
    let our_config = ExportConfig::from_env(&ours).unwrap();
    assert_eq!(docker_config.export.source.query, our_config.export.source.query);
    assert_eq!(our_config.export.source.query, "SELECT * FROM db.public.service_requests");

    // And both readers export from a real server with the example's query.
    let db = PgDatabase::create();
    db.exec("CREATE TABLE service_requests (id int, topic text); INSERT INTO service_requests VALUES (1, 'Laterne'), (2, 'Müll');");
    let mut server: Vec<(String, String)> = db.env("unused");
    server.retain(|(k, _)| k != "SOURCE_DATABASE_SQL_QUERY");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("example.parquet");
    let expected = vec![
        vec![Some("1".to_string()), Some("Laterne".to_string())],
        vec![Some("2".to_string()), Some("Müll".to_string())],
    ];

    let run =
        connector(&["export", "--env-file", example.to_str().unwrap(), "--output", file.to_str().unwrap()], &server);
    assert_eq!(run.code, 0, "our reader: {}", run.output());
    let mut rows = parquet_rows(&file);
    rows.sort();
    assert_eq!(rows, expected);

    let mut as_docker_passes_it: Vec<(String, String)> =
        docker.into_iter().filter(|(k, _)| !server.iter().any(|(s, _)| s == k)).collect();
    as_docker_passes_it.extend(server.clone());
    std::fs::remove_file(&file).unwrap();
    let run = connector(&["export", "--output", file.to_str().unwrap()], &as_docker_passes_it);
    assert_eq!(run.code, 0, "docker run --env-file: {}", run.output());
    let mut rows = parquet_rows(&file);
    rows.sort();
    assert_eq!(rows, expected);
    assert_no_secret(&run.output(), &[&db.password]);
}

// ---------------------------------------------------------------------------
// `upload --file` (issue 16, item 2)

fn parquet_with_rows(path: &Path, rows: u32) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch(&format!(
        "COPY (SELECT i AS id, 'row ' || i AS label FROM range({rows}) t(i)) TO '{}' (FORMAT parquet)",
        path.display()
    ))
    .unwrap();
}

fn upload_token_api() -> crate::common::mock_api::MockApi {
    crate::common::mock_api::MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, r#"{"data": {"token": "upl_file_token_1"}}"#.into()),
        "/upload" => (200, "OK".into()),
        _ => (404, "".into()),
    })
}

#[test]
fn upload_of_a_file_needs_only_the_polyteia_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready.parquet");
    parquet_with_rows(&file, 3);
    let api = upload_token_api();
    let polyteia = env(&[
        ("PERSONAL_ACCESS_TOKEN", "pak_upload_file_secret"),
        ("DATASET_ID", "ds_file"),
        ("POLYTEIA_BASE_URL", &api.url),
    ]);
    let run = connector(&["upload", "--file", file.to_str().unwrap()], &polyteia);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(api.paths(), ["/api", "/upload"]);
    assert!(run.stderr.contains("upload finished: 3 rows"), "{}", run.stderr);
    // Source settings are not read at all: a broken one does not matter.
    let run = connector(
        &["upload", "--file", file.to_str().unwrap()],
        &with(polyteia.clone(), &[("SOURCE_DATABASE_PORT", "eighty")]),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    // The Polyteia settings still are.
    let run = connector(&["upload", "--file", file.to_str().unwrap()], &env(&[("POLYTEIA_BASE_URL", &api.url)]));
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("configuration has 2 problems: PERSONAL_ACCESS_TOKEN: is required"), "{}", run.stderr);
    assert!(!run.stderr.contains("SOURCE_DATABASE"), "{}", run.stderr);
    assert_no_secret(&run.output(), &["pak_upload_file_secret"]);
}

// ---------------------------------------------------------------------------
// Flag values (issue 16, item 4)

#[test]
fn bad_log_flag_values_are_usage_errors_listing_the_valid_values() {
    for (args, listed) in [
        (["--log-format", "xml"], "[possible values: text, json]"),
        (["--log-level", "loud"], "[possible values: debug, info, warn, error]"),
    ] {
        let mut all = args.to_vec();
        all.extend(["export", "--output", "/tmp/never.parquet"]);
        let run = connector(&all, &memory_source("SELECT 1"));
        assert_eq!(run.code, 2, "{args:?}: {}", run.output());
        assert!(run.stderr.contains(&format!("invalid value '{}' for '{}", args[1], args[0])), "{}", run.stderr);
        assert!(run.stderr.contains(listed), "{}", run.stderr);
    }
    // Valid values still work, in any case.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("o.parquet");
    let run = connector(
        &["--log-level", "WARN", "--log-format", "Json", "export", "--output", file.to_str().unwrap()],
        &memory_source("SELECT 1"),
    );
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stderr.is_empty(), "warn level hides the info lines: {}", run.stderr);
}

// ---------------------------------------------------------------------------
// Secrets from files (issue 16, item 7)

#[test]
fn secret_files_lose_trailing_white_space_and_refuse_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ready.parquet");
    parquet_with_rows(&file, 2);
    let key_file = dir.path().join("personal-access-token");
    let api = crate::common::mock_api::MockApi::start(|req, _| match req.path.as_str() {
        "/api" if req.header("Authorization") == Some("Bearer pak_file_secret_91") => {
            (200, r#"{"data": {"token": "upl_file_token_2"}}"#.into())
        }
        "/api" => (401, "wrong key".into()),
        "/upload" => (200, "OK".into()),
        _ => (404, "".into()),
    });
    let vars = env(&[
        ("PERSONAL_ACCESS_TOKEN_FILE", key_file.to_str().unwrap()),
        ("DATASET_ID", "ds_file"),
        ("POLYTEIA_BASE_URL", &api.url),
    ]);
    // Written by an editor, by `echo` twice, or on Windows.
    for content in ["pak_file_secret_91\n\n", "pak_file_secret_91\r\n", "pak_file_secret_91 \t\n"] {
        std::fs::write(&key_file, content).unwrap();
        let run = connector(&["upload", "--file", file.to_str().unwrap()], &vars);
        assert_eq!(run.code, 0, "{content:?}: {}", run.output());
        assert_no_secret(&run.output(), &["pak_file_secret_91"]);
    }
    let requests = api.requests().len();
    for content in ["pak_file\nsecret_91\n", "pak_file\u{7}secret_91", "pak_file\rsecret_91"] {
        std::fs::write(&key_file, content).unwrap();
        let run = connector(&["upload", "--file", file.to_str().unwrap()], &vars);
        assert_eq!(run.code, 3, "{content:?}: {}", run.output());
        assert!(
            run.stderr.contains(&format!(
                "PERSONAL_ACCESS_TOKEN_FILE: file {} holds a control character",
                key_file.display()
            )),
            "{}",
            run.stderr
        );
        assert_no_secret(&run.output(), &["pak_file", "secret_91"]);
    }
    assert_eq!(api.requests().len(), requests, "nothing may be sent with a malformed key");
}

#[test]
fn a_database_password_file_with_trailing_line_breaks_still_logs_in() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (8);");
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("database-password");
    std::fs::write(&pw_file, format!("{}\r\n\n", db.password)).unwrap();
    let mut vars = db.env("SELECT * FROM db.t");
    vars.retain(|(k, _)| k != "SOURCE_DATABASE_PASSWORD");
    vars.push(("SOURCE_DATABASE_PASSWORD_FILE".into(), pw_file.display().to_string()));
    let file = dir.path().join("out.parquet");
    let run = connector(&["export", "--output", file.to_str().unwrap()], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(parquet_rows(&file), vec![vec![Some("8".to_string())]]);
    assert_no_secret(&run.output(), &[&db.password]);
}

// ---------------------------------------------------------------------------
// One log format for every line (issue 16, item 10)

fn assert_every_line_is_json(run: &Run) -> Vec<serde_json::Value> {
    assert!(!run.stderr.is_empty());
    run.stderr
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", run.stderr))
        })
        .inspect(|v| assert!(v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string(), "{v}"))
        .collect()
}

#[test]
fn once_the_log_format_is_known_every_line_is_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad_env = dir.path().join("bad.env");
    std::fs::write(&bad_env, "A=1\nthis line is not an assignment\n").unwrap();
    let output = dir.path().join("o.parquet");
    let output = output.to_str().unwrap();

    // An env file that cannot be read, with the format from the flag or from the environment.
    for (args, vars) in [
        (vec!["--log-format", "json", "export", "--env-file", bad_env.to_str().unwrap(), "--output", output], vec![]),
        (vec!["export", "--env-file", "/nonexistent/x.env", "--output", output], env(&[("LOG_FORMAT", "json")])),
    ] {
        let run = connector(&args, &vars);
        assert_eq!(run.code, 3, "{}", run.output());
        let lines = assert_every_line_is_json(&run);
        let last = lines.last().unwrap();
        assert_eq!(last["level"], "error");
        assert_eq!(last["exit_code"], 3);
        assert_eq!(last["error_class"], "config");
        assert!(last["message"].as_str().unwrap().contains("cannot read env file"), "{last}");
    }

    // A usage error when the environment asks for JSON.
    let run = connector(&["--log-level", "loud", "export", "--output", output], &env(&[("LOG_FORMAT", "json")]));
    assert_eq!(run.code, 2, "{}", run.output());
    let lines = assert_every_line_is_json(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert_eq!(lines[0]["exit_code"], 2);
    assert!(
        lines[0]["message"].as_str().unwrap().contains("[possible values: debug, info, warn, error]"),
        "{}",
        lines[0]
    );

    // Text is a format too: the env-file error is a log line like any other.
    let run = connector(&["export", "--env-file", bad_env.to_str().unwrap(), "--output", output], &[]);
    assert_eq!(run.code, 3, "{}", run.output());
    let text_line = |l: &str| {
        let mut words = l.split_whitespace();
        words.next().is_some_and(chrono_like)
            && words.next().is_some_and(|lvl| ["ERROR", "WARN", "INFO", "DEBUG"].contains(&lvl))
    };
    assert!(run.stderr.lines().all(text_line), "{}", run.stderr);
    assert!(run.stderr.contains("cannot read env file") && run.stderr.contains("exit_code=3"), "{}", run.stderr);
}

/// `2026-11-26T13:00:00.000Z`
fn chrono_like(word: &str) -> bool {
    word.len() == 24 && word.ends_with('Z') && word.as_bytes()[10] == b'T'
}
