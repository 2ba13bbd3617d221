//! A query with ORDER BY must come out of `connector export` in that order,
//! whatever the engine does in parallel: the PostgreSQL scanner splits a big
//! table into ctid ranges read by several threads, and the Parquet writer may
//! work on several row groups at once. The tables are stored shuffled (so the
//! physical order is not the requested one) and large enough to be read as
//! many parallel tasks and written as several row groups.

use crate::common::*;
use std::path::Path;

/// Rows in the shuffled table: about 4,000 PostgreSQL pages, so the scanner's
/// ctid ranges (pg_pages_per_task) give several parallel tasks. The key `k` is
/// a permutation of 1..=ROWS (7919 is prime and does not divide ROWS) stored in
/// scrambled order.
const ROWS: i64 = 300_000;

/// The `k` column of the Parquet file, in file order.
fn keys_in_file(file: &Path) -> Vec<i64> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let path = file.display().to_string().replace('\'', "''");
    let mut stmt = conn.prepare(&format!("SELECT k FROM read_parquet('{path}')")).unwrap();
    stmt.query_map([], |row| row.get::<_, i64>(0)).unwrap().map(Result::unwrap).collect()
}

fn export(env_pairs: Vec<(String, String)>, extra: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("ordered.parquet");
    // Four threads and small row groups even on a small machine, so the order
    // is really exercised across parallel tasks and row groups.
    let mut all = vec![("DUCKDB_THREADS", "4"), ("PARQUET_ROW_GROUP_SIZE", "20000")];
    all.extend_from_slice(extra);
    let run = connector(&["export", "--output", file.to_str().unwrap()], &with(env_pairs, &all));
    (run, out)
}

fn assert_descending(file: &Path) {
    let keys = keys_in_file(file);
    assert_eq!(keys.len() as i64, ROWS);
    for (i, pair) in keys.windows(2).enumerate() {
        assert!(pair[0] > pair[1], "row {i}: k {} is followed by {} (not in ORDER BY k DESC order)", pair[0], pair[1]);
    }
    assert_eq!(keys.first(), Some(&ROWS));
    assert_eq!(keys.last(), Some(&1));
}

#[test]
fn postgres_order_by_is_kept_in_the_parquet_file() {
    let db = PgDatabase::create();
    db.exec(&format!(
        "CREATE TABLE shuffled (id int, k bigint, pad text); \
         INSERT INTO shuffled SELECT g, (g * 7919) % {ROWS} + 1, repeat('x', 60) FROM generate_series(1::bigint, {ROWS}) g; \
         ANALYZE shuffled;"
    ));
    for query in ["SELECT k, pad FROM db.shuffled ORDER BY k DESC", "SELECT * FROM shuffled ORDER BY k DESC"] {
        let (run, dir) = export(db.env(query), &[]);
        assert_eq!(run.code, 0, "{query}: {}", run.output());
        assert_descending(&dir.path().join("ordered.parquet"));
    }
    // The server's own SQL, ordered on the server.
    let (run, dir) =
        export(db.env("SELECT k FROM shuffled ORDER BY k DESC"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_descending(&dir.path().join("ordered.parquet"));
}

#[test]
fn mariadb_order_by_is_kept_in_the_parquet_file() {
    let db = MysqlDatabase::create();
    db.admin(&format!(
        "CREATE TABLE shuffled (id int PRIMARY KEY, k bigint, pad varchar(100)); \
         INSERT INTO shuffled SELECT seq, (seq * 7919) % {ROWS} + 1, REPEAT('x', 60) FROM seq_1_to_{ROWS};"
    ));
    for query in ["SELECT k, pad FROM db.shuffled ORDER BY k DESC", "SELECT * FROM shuffled ORDER BY k DESC"] {
        let (run, dir) = export(db.env(query), &[]);
        assert_eq!(run.code, 0, "{query}: {}", run.output());
        assert_descending(&dir.path().join("ordered.parquet"));
    }
    let (run, dir) =
        export(db.env("SELECT k FROM shuffled ORDER BY k DESC"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert_descending(&dir.path().join("ordered.parquet"));
}
