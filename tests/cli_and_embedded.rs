//! The command line, configuration errors, logging formats, and the embedded
//! source types (DuckDB and SQLite files) that need no server.

mod common;

use std::path::{Path, PathBuf};

use common::*;

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
    let secrets = env(&[("PERSONAL_ACCESS_TOKEN", "pak_help_secret_123"), ("SOURCE_DATABASE_PASSWORD", "pw_help_secret")]);
    let run = connector(&["version"], &secrets);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with(&format!("connector {}", env!("CARGO_PKG_VERSION"))), "{}", run.stdout);
    assert!(run.stdout.contains("DuckDB v1.5.5"), "{}", run.stdout);
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
    for (shell, marker) in [("bash", "_connector()"), ("zsh", "#compdef connector"), ("fish", "complete -c connector")] {
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
        conn.execute_batch("CREATE TABLE permits (id INTEGER, kind VARCHAR); INSERT INTO permits VALUES (1, 'Bau'), (2, 'Gewerbe');")
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
    assert!(run.stderr.contains("v1.5.5/linux_amd64/sqlite_scanner.duckdb_extension"), "{}", run.stderr);
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
        assert!(errors[0].contains(&format!("cannot read env file {}: No such file", missing.display())), "{}", errors[0]);
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
    let api = common::mock_api::MockApi::start(|_, _| (401, r#"{"error": {"message": "invalid key"}}"#.into()));
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
    let vars = with(db.env("SELECT 1"), &[("PERSONAL_ACCESS_TOKEN", PAK), ("POLYTEIA_BASE_URL", &api.url), ("DATASET_ID", "ds_1")]);
    let run = connector(&["check"], &vars);
    assert!(run.stderr.contains("settings from the environment only (no env file read)"), "{}", run.stderr);
}
