//! `PSEUDONYMIZE_COLUMNS`: every pseudonym in the file equals the HMAC-SHA256
//! that Python's own `hmac`/`hashlib` computes from the value's canonical
//! text (never the connector's code), for each source kind; the same values
//! from PostgreSQL and MariaDB give the same pseudonyms, and so do two runs;
//! a raw value reaches neither the file, the work directory, the logs nor
//! the upload; and every configuration mistake stops the run with exit 3
//! before anything is uploaded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::mock_api::{MockApi, Pace};
use crate::common::secrets::Secrets;
use crate::common::*;

/// At least 32 bytes; non-ASCII, so the key's UTF-8 bytes are what counts.
const KEY: &str = "Schlüssel der Tests: 7f3a9c21e4b0d8c5a6f1b2e3d4c5b6a7";
const PAK: &str = "pak_pseudonym_Secret_17";
const UPLOAD_TOKEN: &str = "upl_token_pseudonym_42";

/// The columns pseudonymised in the table of every source.
const LISTED: &str = "id,big,name,born,uid";

/// The table's rows as SQL values (every source reads them alike) and the
/// canonical text of each pseudonymised value, written out here (integers
/// in plain decimal, text as stored, dates YYYY-MM-DD, UUIDs lowercase with
/// hyphens).
struct Row {
    ord: i32,
    sql: [&'static str; 5],
    canonical: [Option<&'static str>; 5],
}

const ROWS: [Row; 4] = [
    Row {
        ord: 1,
        sql: [
            "1",
            "9007199254740993",
            "'Jürgen Größe-Ümlaut 🙂'",
            "'1987-06-05'",
            "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
        ],
        canonical: [
            Some("1"),
            Some("9007199254740993"),
            Some("Jürgen Größe-Ümlaut 🙂"),
            Some("1987-06-05"),
            Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ],
    },
    Row {
        ord: 2,
        sql: ["-7", "-42", "'Zoë 👩‍👩‍👧 O''Brien, ß'", "'2001-12-31'", "NULL"],
        canonical: [Some("-7"), Some("-42"), Some("Zoë 👩‍👩‍👧 O'Brien, ß"), Some("2001-12-31"), None],
    },
    Row {
        ord: 3,
        sql: ["2147483647", "NULL", "NULL", "NULL", "'00000000-0000-0000-0000-000000000000'"],
        canonical: [Some("2147483647"), None, None, None, Some("00000000-0000-0000-0000-000000000000")],
    },
    Row {
        ord: 4,
        sql: ["0", "-9223372036854775808", "''", "'1000-01-01'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"],
        canonical: [
            Some("0"),
            Some("-9223372036854775808"),
            Some(""),
            Some("1000-01-01"),
            Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ],
    },
];

fn values_sql(lower_uuid: bool) -> String {
    ROWS.iter()
        .map(|r| {
            let mut values: Vec<String> = r.sql.iter().map(|v| v.to_string()).collect();
            if lower_uuid {
                values[4] = values[4].to_lowercase();
            }
            format!("({}, {})", r.ord, values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const QUERY: &str = "SELECT ord, id, big, name, born, uid FROM db.people ORDER BY ord";

/// HMAC-SHA256 of each text, computed by Python's standard library.
fn python_hmac(key: &str, texts: &[Option<&str>]) -> Vec<Option<String>> {
    use std::io::Write;
    let script = "import hashlib, hmac, json, sys\n\
                  d = json.load(sys.stdin)\n\
                  k = d['key'].encode('utf-8')\n\
                  print(json.dumps([None if v is None else hmac.new(k, v.encode('utf-8'), hashlib.sha256).hexdigest() \
                  for v in d['values']]))\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed (scripts/ensure-services installs it)");
    let input = serde_json::json!({ "key": key, "values": texts });
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The rows the file must hold: `ord`, then the five pseudonyms.
fn expected_rows() -> Vec<Vec<Option<String>>> {
    let texts: Vec<Option<&str>> = ROWS.iter().flat_map(|r| r.canonical).collect();
    let hashes = python_hmac(KEY, &texts);
    ROWS.iter()
        .zip(hashes.chunks(5))
        .map(|(row, hashes)| std::iter::once(Some(row.ord.to_string())).chain(hashes.iter().cloned()).collect())
        .collect()
}

fn pseudonymizing(base: Vec<(String, String)>) -> Vec<(String, String)> {
    with(base, &[("PSEUDONYMIZE_COLUMNS", LISTED), ("PSEUDONYMIZATION_KEY", KEY), ("LOG_LEVEL", "debug")])
}

/// Two exports of `vars`: each file holds exactly `expected`, every
/// pseudonymised column is VARCHAR, and the key shows nowhere.
fn export_twice_and_compare(vars: &[(String, String)]) -> Vec<Vec<Option<String>>> {
    let expected = expected_rows();
    let mut files = Vec::new();
    for _ in 0..2 {
        let (run, dir) = export_to_temp(vars, &[KEY]);
        assert_eq!(run.code, 0, "{}", run.output());
        assert!(run.stderr.contains("pseudonymising 5 columns: id, big, name, born, uid"), "{}", run.stderr);
        assert!(run.stderr.contains("export finished: 4 rows, 6 columns (5 pseudonymised)"), "{}", run.stderr);
        let file = result_file(&dir);
        let types: Vec<(String, String)> = parquet_columns(&file);
        let names: Vec<&str> = types.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["ord", "id", "big", "name", "born", "uid"]);
        assert!(types[1..].iter().all(|(_, t)| t == "VARCHAR"), "{types:?}");
        Secrets::new([KEY]).check_parquet(&file);
        files.push((parquet_rows(&file), dir));
    }
    assert_eq!(files[0].0, expected, "the pseudonyms differ from Python's HMAC-SHA256");
    assert_eq!(files[1].0, files[0].0, "two runs gave different pseudonyms");
    files.remove(0).0
}

#[test]
fn postgres_and_mariadb_give_pythons_pseudonyms_and_the_same_ones() {
    let pg = PgDatabase::create();
    pg.exec(&format!(
        "CREATE TABLE people (ord int, id integer, big bigint, name text, born date, uid uuid); \
         INSERT INTO people VALUES {};",
        values_sql(false)
    ));
    let from_pg = export_twice_and_compare(&pseudonymizing(pg.env(QUERY)));

    let my = MysqlDatabase::create();
    my.admin(&format!(
        "SET NAMES utf8mb4; \
         CREATE TABLE people (ord INT, id INT, big BIGINT, name TEXT, born DATE, uid UUID) CHARACTER SET utf8mb4; \
         INSERT INTO people VALUES {};",
        values_sql(false)
    ));
    let from_mariadb = export_twice_and_compare(&pseudonymizing(my.env(QUERY)));
    assert_eq!(from_pg, from_mariadb, "the same values from PostgreSQL and MariaDB gave different pseudonyms");
}

fn embedded_connection() -> duckdb::Connection {
    let config = duckdb::Config::default()
        .with("extension_directory", extension_dir().to_str().unwrap())
        .unwrap()
        .with("autoinstall_known_extensions", "false")
        .unwrap();
    duckdb::Connection::open_in_memory_with_flags(config).unwrap()
}

#[test]
fn duckdb_and_sqlite_files_give_pythons_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    let duck = dir.path().join("people.duckdb");
    let lite = dir.path().join("people.sqlite");
    let conn = embedded_connection();
    conn.execute_batch(&format!(
        "ATTACH '{duck}' AS d; \
         CREATE TABLE d.people (ord INTEGER, id INTEGER, big BIGINT, name VARCHAR, born DATE, uid UUID); \
         INSERT INTO d.people VALUES {upper}; DETACH d; \
         LOAD sqlite_scanner; ATTACH '{lite}' AS s (TYPE sqlite); \
         CREATE TABLE s.people (ord INTEGER, id INTEGER, big BIGINT, name VARCHAR, born DATE, uid VARCHAR); \
         INSERT INTO s.people VALUES {lower}; DETACH s;",
        duck = duck.display(),
        lite = lite.display(),
        upper = values_sql(false),
        lower = values_sql(true),
    ))
    .unwrap();
    drop(conn);
    let source = |kind: &str, file: &Path| {
        pseudonymizing(env(&[
            ("SOURCE_DATABASE_TYPE", kind),
            ("SOURCE_DATABASE_NAME", file.to_str().unwrap()),
            ("SOURCE_DATABASE_SQL_QUERY", QUERY),
        ]))
    };
    let from_duckdb = export_twice_and_compare(&source("duckdb", &duck));
    let from_sqlite = export_twice_and_compare(&source("sqlite", &lite));
    assert_eq!(from_duckdb, from_sqlite);
}

/// Every file below `dir`, read whole.
fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_below(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

/// A distinctive raw value of a pseudonymised column in a run with the
/// upload-token API, debug logs and a slow upload: the work directory is
/// read over and over while the run goes on (every file, whole), and the
/// raw value appears in none of those reads, nor in the logs, the uploaded
/// file or the request bodies; the key neither.
#[test]
fn no_raw_value_reaches_the_work_directory_the_logs_or_the_upload() {
    const RAW: &str = "Zebrafink-Rohwert-7731";
    let pg = PgDatabase::create();
    pg.exec(&format!(
        "CREATE TABLE residents (nr int, vorname text, email text, district text); \
         INSERT INTO residents SELECT i, '{RAW}-' || i, 'person' || i || '@example.org', 'Mitte' \
         FROM generate_series(1, 30000) AS i;"
    ));
    let api =
        MockApi::start_paced(Pace { read_pause: Some(Duration::from_millis(15)) }, |req, _| match req.path.as_str() {
            "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
            "/upload" => (200, "OK".into()),
            _ => (404, "not found".into()),
        });
    let temp = tempfile::tempdir().unwrap();
    let metrics = tempfile::tempdir().unwrap();
    let textfile = metrics.path().join("connector.prom");
    let vars = with(
        pg.env("SELECT nr, vorname, email, district FROM db.residents ORDER BY nr"),
        &[
            ("PSEUDONYMIZE_COLUMNS", "vorname, \"EMAIL\""),
            ("PSEUDONYMIZATION_KEY", KEY),
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_pseudonym_1"),
            ("TEMP_DIR", temp.path().to_str().unwrap()),
            ("LOG_LEVEL", "debug"),
            ("METRICS_TEXTFILE", textfile.to_str().unwrap()),
        ],
    );
    let raw = Secrets::new([RAW, KEY]);

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (dir, stop, raw) = (temp.path().to_path_buf(), stop.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut parquet_reads = 0u32;
            let mut seen = BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                for (path, bytes) in files_below(&dir) {
                    raw.assert_absent(&format!("{} during the run", path.display()), &bytes);
                    if path.extension().is_some_and(|e| e == "parquet") && !bytes.is_empty() {
                        parquet_reads += 1;
                    }
                    seen.insert(path.file_name().unwrap().to_string_lossy().into_owned());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            (parquet_reads, seen)
        })
    };
    let run = connector(&["run"], &vars);
    stop.store(true, Ordering::SeqCst);
    let (parquet_reads, seen) = watcher.join().expect("the work directory held a raw value");
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(parquet_reads > 0, "the watcher never saw the Parquet file being written or uploaded: {seen:?}");
    raw.check_run(&run);
    assert!(run.stderr.contains("pseudonymising 2 columns: vorname, email"), "{}", run.stderr);
    assert!(run.stderr.contains("run finished: 30000 rows, 4 columns (2 pseudonymised)"), "{}", run.stderr);
    let metrics = std::fs::read_to_string(&textfile).unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("connector_last_run_pseudonymized_columns{") && l.ends_with("} 2")),
        "{metrics}"
    );

    let requests = api.requests();
    for request in &requests {
        raw.assert_absent(&format!("the request to {}", request.path), &request.body);
    }
    raw.check_uploads(&requests);
    let upload = requests.iter().find(|r| r.path == "/upload").expect("an upload");
    let rows = uploaded_rows(upload);
    assert_eq!(rows.len(), 30000);
    let texts: Vec<String> = [1, 30000].iter().map(|i| format!("{RAW}-{i}")).collect();
    let emails: Vec<String> = [1, 30000].iter().map(|i| format!("person{i}@example.org")).collect();
    let all: Vec<Option<&str>> = texts.iter().chain(&emails).map(|t| Some(t.as_str())).collect();
    let hashes = python_hmac(KEY, &all);
    assert_eq!(rows[0], [Some("1".into()), hashes[0].clone(), hashes[2].clone(), Some("Mitte".into())]);
    assert_eq!(rows[29999], [Some("30000".into()), hashes[1].clone(), hashes[3].clone(), Some("Mitte".into())]);
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "temp files left behind");
}

/// A mistake in the settings or a column that cannot be pseudonymised: exit
/// 3 naming the problem, nothing sent to the API, no key in the output.
#[test]
fn mistakes_stop_the_run_with_exit_3_and_nothing_uploaded() {
    let pg = PgDatabase::create();
    pg.exec(
        "CREATE TABLE cases (nr int, person_id bigint, tags text[]); \
         INSERT INTO cases VALUES (1, 4711, ARRAY['a','b']);",
    );
    let api = MockApi::start(|_, _| (500, "must not be called".into()));
    let temp = tempfile::tempdir().unwrap();
    let base = with(
        pg.env("SELECT nr, person_id, tags FROM db.cases"),
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_pseudonym_2"),
            ("TEMP_DIR", temp.path().to_str().unwrap()),
            ("LOG_LEVEL", "debug"),
        ],
    );
    let short_key = &KEY[..20];
    let unreachable = free_port().to_string();
    for (extra, says) in [
        (vec![("PSEUDONYMIZE_COLUMNS", "person_id")], "PSEUDONYMIZE_COLUMNS: lists columns but no key is set"),
        (
            vec![("PSEUDONYMIZE_COLUMNS", "person_id"), ("PSEUDONYMIZATION_KEY", short_key)],
            "PSEUDONYMIZATION_KEY: the key has 20 bytes, at least 32 are needed",
        ),
        (
            vec![("PSEUDONYMIZE_COLUMNS", "persn_id"), ("PSEUDONYMIZATION_KEY", KEY)],
            "PSEUDONYMIZE_COLUMNS: column persn_id is not in the query's result",
        ),
        (
            vec![("PSEUDONYMIZE_COLUMNS", "person_id,tags"), ("PSEUDONYMIZATION_KEY", KEY)],
            "PSEUDONYMIZE_COLUMNS: column tags: a nested type (VARCHAR[]) has no canonical text",
        ),
    ] {
        let run = connector(&["run"], &with(base.clone(), &extra));
        assert_no_panic(&run);
        assert_eq!(run.code, 3, "{extra:?}: {}", run.output());
        assert!(run.stderr.contains(says), "{extra:?}: {}", run.stderr);
        Secrets::new([KEY, short_key, PAK]).check_run(&run);
        assert!(api.requests().is_empty(), "{extra:?}: the API was called");
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0, "{extra:?}: temp files left behind");
    }

    // Reported with the other configuration problems, before anything connects
    // (the source's port is closed: connecting would end with another code).
    let run = connector(
        &["run"],
        &with(
            base.clone(),
            &[
                ("SOURCE_DATABASE_PORT", &unreachable),
                ("PSEUDONYMIZE_COLUMNS", "person_id"),
                ("PSEUDONYMIZATION_KEY", short_key),
                ("PARQUET_COMPRESSION", "lz5"),
            ],
        ),
    );
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.stderr.contains("configuration has 2 problems"), "{}", run.stderr);
    assert!(run.stderr.contains("PSEUDONYMIZATION_KEY: the key has 20 bytes"), "{}", run.stderr);
    assert!(!run.stderr.contains("exporting from"), "{}", run.stderr);
    assert!(api.requests().is_empty());
}

/// `check` names the pseudonymised columns and warns about personal-looking
/// names that are not; exactness does not judge a pseudonymised column.
#[test]
fn check_lists_pseudonyms_and_warns_about_personal_names_and_exactness_accepts_them() {
    let pg = PgDatabase::create();
    pg.exec(
        "CREATE TABLE register (nr int, vorname text, \"E-Mail\" text, geburtsdatum date, ort text); \
         INSERT INTO register VALUES (1, 'Anna', 'a@example.org', 'infinity', 'Bonn');",
    );
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, format!(r#"{{"data": {{"token": "{UPLOAD_TOKEN}"}}}}"#)),
        _ => (404, "not found".into()),
    });
    let vars = with(
        pg.env("SELECT * FROM db.register"),
        &[
            ("PERSONAL_ACCESS_TOKEN", PAK),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_pseudonym_3"),
            ("PSEUDONYMIZE_COLUMNS", "geburtsdatum"),
            ("PSEUDONYMIZATION_KEY", KEY),
        ],
    );
    let run = connector(&["check"], &vars);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains(
            "WARN pseudonymisation: pseudonymised (HMAC-SHA256): geburtsdatum; these columns look like personal \
             data and are uploaded as they are: vorname (vorname), E-Mail (mail)"
        ),
        "{}",
        run.stderr
    );
    Secrets::new([KEY]).check_run(&run);

    // geburtsdatum holds infinity, which the exactness check refuses (exit 17)
    // in a column that arrives as a value, not in one replaced by a pseudonym.
    let (run, _) = export_to_temp(&with(vars.clone(), &[("PSEUDONYMIZE_COLUMNS", "")]), &[KEY]);
    assert_eq!(run.code, 17, "{}", run.output());
    let (run, dir) = export_to_temp(&vars, &[KEY]);
    assert_eq!(run.code, 0, "{}", run.output());
    let infinity = python_hmac(KEY, &[Some("infinity")]);
    assert_eq!(parquet_rows(&result_file(&dir))[0][3], infinity[0]);
}
