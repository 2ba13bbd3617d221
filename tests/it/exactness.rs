//! Exact or refused: each value that real PostgreSQL/PostGIS and MariaDB
//! databases hold and DuckDB's scanners or Parquet would change is either
//! made exact (compared with the source's own text for it) or refused with
//! exit 17, naming the column, before anything is uploaded.

use std::path::Path;

use crate::common::mock_api::MockApi;
use crate::common::*;

const LOSS_REFUSED: i32 = 17;

/// Exports `query` from `source` (extra settings added); the run and the
/// file, if one was written.
fn export(source: Vec<(String, String)>, extra: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    let (run, dir) = export_to_temp(&with(source, extra), &[]);
    assert_no_panic(&run);
    (run, dir)
}

/// The run was refused for `column` and wrote no file.
fn assert_refused(run: &Run, dir: &tempfile::TempDir, column: &str, says: &[&str]) {
    assert_eq!(run.code, LOSS_REFUSED, "{}", run.output());
    let out = run.output();
    assert!(out.contains(&format!("column {column} (")), "the column is not named:\n{out}");
    for text in says {
        assert!(out.contains(text), "the message does not say {text:?}:\n{out}");
    }
    assert!(out.contains("ACCEPT_LOSS_COLUMNS"), "{out}");
    assert!(!result_file(dir).exists(), "a refused export left a file");
}

fn assert_exported(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.output());
}

/// The rows of the exported file, as text.
fn rows(dir: &tempfile::TempDir) -> Vec<Vec<Option<String>>> {
    parquet_rows(&result_file(dir))
}

fn text(values: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
    values.iter().map(|v| vec![v.map(str::to_string)]).collect()
}

/// A PostgreSQL database with PostGIS (Debian's postgresql-15-postgis-3,
/// installed by scripts/ensure-services); create tables with `exec`, as the
/// test role.
fn postgis_database() -> PgDatabase {
    let db = PgDatabase::create();
    db.admin("CREATE EXTENSION postgis");
    db
}

/// The `geo` metadata of a GeoParquet file and the points of `column`
/// (decoded from its WKB), in file order.
fn geoparquet_points(file: &Path, column: &str) -> (serde_json::Value, Vec<Option<(f64, f64)>>) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    conn.execute_batch("SET enable_geoparquet_conversion = false").unwrap();
    let path = file.display().to_string().replace('\'', "''");
    let geo: String = conn
        .query_row(&format!("SELECT decode(value) FROM parquet_kv_metadata('{path}') WHERE key = 'geo'"), [], |r| {
            r.get(0)
        })
        .expect("the file has no GeoParquet metadata");
    let mut stmt = conn.prepare(&format!("SELECT \"{column}\"::BLOB FROM read_parquet('{path}')")).unwrap();
    let points = stmt
        .query_map([], |r| r.get::<_, Option<Vec<u8>>>(0))
        .unwrap()
        .map(|wkb| wkb.unwrap().map(|wkb| wkb_point(&wkb)))
        .collect();
    (serde_json::from_str(&geo).unwrap(), points)
}

/// A 2D point in standard little-endian WKB: byte order 1, type 1, x, y.
fn wkb_point(wkb: &[u8]) -> (f64, f64) {
    assert_eq!(wkb.len(), 21, "not a 2D WKB point: {wkb:02x?}");
    assert_eq!(&wkb[..5], &[1, 1, 0, 0, 0], "not a little-endian WKB point: {wkb:02x?}");
    let x = f64::from_le_bytes(wkb[5..13].try_into().unwrap());
    let y = f64::from_le_bytes(wkb[13..21].try_into().unwrap());
    (x, y)
}

fn assert_crs(geo: &serde_json::Value, column: &str, epsg: i64) {
    let id = &geo["columns"][column]["crs"]["id"];
    assert_eq!(id["authority"], "EPSG", "{geo}");
    assert_eq!(id["code"], epsg, "{geo}");
}

// ---------------------------------------------------------------------------
// PostgreSQL and PostGIS

#[test]
fn postgres_numeric_nan_is_refused_naming_the_column_and_the_rows() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE prices (id int, amount numeric(10,2)); \
         INSERT INTO prices VALUES (1, 'NaN'), (2, 12.50), (3, NULL), (4, 'NaN'), (5, -0.01);",
    );
    let (run, dir) = export(db.env("SELECT id, amount FROM db.prices"), &[]);
    assert_refused(
        &run,
        &dir,
        "amount",
        &["numeric(10,2)", "2 rows", "NaN would arrive as 0", "NULLIF(amount, 'NaN')"],
    );
    // Under another name, and in an expression, the NaN is still there.
    let (run, dir) = export(db.env("SELECT amount AS price FROM db.prices"), &[]);
    assert_refused(&run, &dir, "amount", &["2 rows"]);
    let (run, dir) = export(db.env("SELECT sum(amount) AS total FROM db.prices"), &[]);
    assert_refused(&run, &dir, "amount", &["2 rows"]);
}

#[test]
fn postgres_numeric_nan_written_as_the_message_says_arrives_as_null() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE prices (id int, amount numeric(10,2)); \
         INSERT INTO prices VALUES (1, 'NaN'), (2, 12.50), (3, NULL), (4, -99999999.99);",
    );
    let (run, dir) = export(
        db.env("SELECT NULLIF(amount, 'NaN') AS amount FROM prices ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[None, Some("12.50"), None, Some("-99999999.99")]));
    // Without the fix, the native query is refused too.
    let (run, dir) =
        export(db.env("SELECT amount FROM prices ORDER BY id"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_refused(&run, &dir, "amount", &["1 row of the result", "NaN would arrive as 0"]);
}

#[test]
fn postgres_numeric_nan_accepted_on_purpose_arrives_as_zero_with_a_warning() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE prices (id int, amount numeric(10,2)); INSERT INTO prices VALUES (1, 'NaN'), (2, 1.25);");
    let query = "SELECT id, amount FROM db.prices ORDER BY id";
    let (run, dir) = export(db.env(query), &[("ACCEPT_LOSS_COLUMNS", "Amount")]);
    assert_exported(&run);
    assert!(run.output().contains("accepted loss (ACCEPT_LOSS_COLUMNS): column amount"), "{}", run.output());
    assert_eq!(
        rows(&dir),
        vec![vec![Some("1".to_string()), Some("0.00".to_string())], vec![Some("2".into()), Some("1.25".into())]]
    );
    // Accepting another column does not accept this one.
    let (run, dir) = export(db.env(query), &[("ACCEPT_LOSS_COLUMNS", "id, other")]);
    assert_refused(&run, &dir, "amount", &[]);
}

#[test]
fn postgres_wide_numeric_is_refused_and_exact_with_the_cast_given() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE m (id int, v numeric, w numeric(50,5)); \
         INSERT INTO m VALUES (1, 0.1, 1.5), (2, 12345678901234567890.123456789, \
         1234567890123456789012345678901234567890123.12345), (3, 'Infinity', NULL), (4, 'NaN', 'NaN'), (5, NULL, NULL);",
    );
    // The scanner reads both as DOUBLE, not always correctly rounded: no value is trusted.
    for column in ["v", "w"] {
        let (run, dir) = export(db.env(&format!("SELECT {column} FROM db.m")), &[]);
        assert_refused(&run, &dir, column, &["arrives as DOUBLE", &format!("{column}::numeric(38,10) AS {column}")]);
        // In an expression under another name, too.
        let (run, dir) = export(db.env(&format!("SELECT {column} * 2 AS doubled FROM db.m")), &[]);
        assert_refused(&run, &dir, column, &["arrives as DOUBLE"]);
    }
    // A filter alone does not put the DOUBLE into the file.
    let (run, dir) = export(db.env("SELECT id FROM db.m WHERE v IS NOT NULL ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("1"), Some("2"), Some("3"), Some("4")]));
    // As the message says: the cast on the server keeps every digit.
    let (run, dir) = export(
        db.env("SELECT v::text AS v, w::text AS w FROM m ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    let source: Vec<Vec<Option<String>>> = db
        .admin("SELECT coalesce(v::text, '-') || '|' || coalesce(w::text, '-') FROM m ORDER BY id")
        .lines()
        .map(|l| l.split('|').map(|v| (v != "-").then(|| v.to_string())).collect())
        .collect();
    assert_eq!(rows(&dir), source);
    assert_eq!(source[1][0].as_deref(), Some("12345678901234567890.123456789"));
    // Native without a cast: a numeric DOUBLE in the result is refused too.
    let (run, dir) = export(db.env("SELECT v FROM m"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_refused(&run, &dir, "v", &["5 rows of the result"]);
}

#[test]
fn postgres_infinite_dates_and_timestamps_are_refused() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE e (id int, d date, ts timestamp, tstz timestamptz); \
         INSERT INTO e VALUES (1, '2024-02-29', '2024-02-29 12:00:00.123456', '2024-02-29 12:00:00+01'), \
         (2, '-infinity', 'infinity', '-infinity'), (3, NULL, NULL, NULL);",
    );
    for column in ["d", "ts", "tstz"] {
        let (run, dir) = export(db.env(&format!("SELECT {column} FROM db.e")), &[]);
        assert_refused(&run, &dir, column, &["1 row in the file", "infinity", &format!("isfinite(\"{column}\")")]);
    }
    let (run, dir) = export(db.env("SELECT d, ts FROM db.e WHERE id <> 2 ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(
        rows(&dir),
        vec![vec![Some("2024-02-29".to_string()), Some("2024-02-29 12:00:00.123456".to_string())], vec![None, None]]
    );
    // The fix the message gives: NULL for the infinite ones.
    let (run, dir) =
        export(db.env("SELECT CASE WHEN isfinite(\"d\") THEN \"d\" END AS \"d\" FROM db.e ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("2024-02-29"), None, None]));
}

#[test]
fn postgres_timetz_is_refused_and_kept_as_text_with_the_cast_given() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE t (id int, clock timetz); INSERT INTO t VALUES (1, '12:34:56.789+02'), (2, NULL);");
    let (run, dir) = export(db.env("SELECT clock FROM db.t"), &[]);
    assert_refused(&run, &dir, "clock", &["TIME WITH TIME ZONE", "offset", "CAST(\"clock\" AS VARCHAR)"]);
    let (run, dir) = export(db.env("SELECT CAST(\"clock\" AS VARCHAR) AS \"clock\" FROM db.t ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("12:34:56.789+02"), None]));
}

#[test]
fn postgis_geometry_arrives_as_geoparquet_with_its_crs_and_unchanged_coordinates() {
    let db = postgis_database();
    db.exec(
        "CREATE TABLE parcels (id int, geom geometry(Point, 25832)); \
         INSERT INTO parcels VALUES (1, ST_SetSRID(ST_MakePoint(691000.5, 5335000.25), 25832)), (2, NULL), \
         (3, ST_SetSRID(ST_MakePoint(-0.000001, 1e7), 25832));",
    );
    for (query, dialect) in [
        ("SELECT id, geom FROM db.parcels ORDER BY id", "duckdb"),
        ("SELECT id, geom FROM parcels ORDER BY id", "native"),
    ] {
        let (run, dir) = export(db.env(query), &[("SOURCE_DATABASE_QUERY_DIALECT", dialect)]);
        assert_exported(&run);
        assert!(run.output().contains("made exact: geom"), "{}", run.output());
        let (geo, points) = geoparquet_points(&result_file(&dir), "geom");
        assert_crs(&geo, "geom", 25832);
        assert_eq!(geo["columns"]["geom"]["crs"]["name"], "ETRS89 / UTM zone 32N");
        assert_eq!(points, vec![Some((691000.5, 5335000.25)), None, Some((-0.000001, 1e7))], "{dialect}");
    }
}

#[test]
fn postgis_geometry_without_srid_is_refused_unless_accepted() {
    let db = postgis_database();
    db.exec("CREATE TABLE spots (id int, geom geometry); INSERT INTO spots VALUES (1, ST_MakePoint(13.4, 52.5));");
    let (run, dir) = export(db.env("SELECT geom FROM db.spots"), &[]);
    assert_refused(&run, &dir, "geom", &["declares no SRID", "OGC:CRS84"]);
    let (run, dir) = export(db.env("SELECT geom FROM db.spots"), &[("ACCEPT_LOSS_COLUMNS", "geom")]);
    assert_exported(&run);
    let (geo, points) = geoparquet_points(&result_file(&dir), "geom");
    assert!(geo["columns"]["geom"].get("crs").is_none(), "{geo}");
    assert_eq!(points, vec![Some((13.4, 52.5))]);
}

#[test]
fn postgis_geography_is_refused() {
    let db = postgis_database();
    db.exec(
        "CREATE TABLE g (id int, place geography(Point, 4326)); \
         INSERT INTO g VALUES (1, ST_GeogFromText('SRID=4326;POINT(13.4 52.5)'));",
    );
    let (run, dir) = export(db.env("SELECT place FROM db.g"), &[]);
    assert_refused(&run, &dir, "place", &["geography", "hex EWKB"]);
}

#[test]
fn a_refused_run_uploads_nothing() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE prices (id int, amount numeric(10,2)); INSERT INTO prices VALUES (1, 'NaN');");
    let api = MockApi::start(|req, _| match req.path.as_str() {
        "/api" => (200, r#"{"data": {"token": "upl_token_exact"}}"#.into()),
        _ => (200, "OK".into()),
    });
    let temp = tempfile::tempdir().unwrap();
    let vars = with(
        db.env("SELECT * FROM db.prices"),
        &[
            ("PERSONAL_ACCESS_TOKEN", "pak_exactness_Secret"),
            ("POLYTEIA_BASE_URL", &api.url),
            ("DATASET_ID", "ds_exact"),
            ("TEMP_DIR", temp.path().to_str().unwrap()),
        ],
    );
    let run = connector(&["run"], &vars);
    assert_eq!(run.code, LOSS_REFUSED, "{}", run.output());
    assert!(run.output().contains("column amount (numeric(10,2) in public.prices): 1 row"), "{}", run.output());
    assert!(!api.paths().iter().any(|p| p.contains("upload")), "something was uploaded: {:?}", api.paths());
    assert_temp_empty(temp.path());
}

#[test]
fn check_names_the_columns_at_risk_and_what_it_does_with_each() {
    let db = postgis_database();
    db.exec(
        "CREATE TABLE mix (id int, amount numeric(10,2), clock timetz, geom geometry(Point, 25832)); \
         INSERT INTO mix VALUES (1, 'NaN', '10:00+01', NULL);",
    );
    let api = MockApi::start(|_, _| (404, "not found".into()));
    let vars = with(
        db.env("SELECT id, amount, geom FROM db.mix"),
        &[("PERSONAL_ACCESS_TOKEN", "pak_exactness_Secret"), ("POLYTEIA_BASE_URL", &api.url), ("DATASET_ID", "ds")],
    );
    let run = connector(&["check"], &vars);
    let out = run.output();
    let line =
        out.lines().find(|l| l.contains("exact values")).unwrap_or_else(|| panic!("no exact values line:\n{out}"));
    assert!(line.contains("made exact: geom"), "{line}");
    assert!(line.contains("EPSG:25832"), "{line}");
    assert!(line.contains("counted on the server before each upload") && line.contains("amount (NaN"), "{line}");
    // `check` counts nothing: the NaN row is not reported as found.
    assert!(!line.contains("1 row"), "{line}");

    let run = connector(&["check"], &with(vars.clone(), &[("SOURCE_DATABASE_SQL_QUERY", "SELECT clock FROM db.mix")]));
    assert_eq!(run.code, 14, "{}", run.output());
    let out = run.output();
    let line = out.lines().find(|l| l.contains("exact values")).unwrap();
    assert!(line.contains("FAIL") && line.contains("column clock (") && line.contains("offset"), "{line}");
}

// ---------------------------------------------------------------------------
// MariaDB

#[test]
fn mariadb_tinyint1_other_than_0_and_1_is_refused_and_kept_as_a_number_with_the_cast() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE flags (id int, f tinyint(1)); INSERT INTO flags VALUES (1, 0), (2, 1), (3, NULL);");
    let (run, dir) = export(db.env("SELECT f FROM db.flags ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("false"), Some("true"), None]));
    db.admin("INSERT INTO flags VALUES (4, 2), (5, -1);");
    let (run, dir) = export(db.env("SELECT f FROM db.flags ORDER BY id"), &[]);
    assert_refused(&run, &dir, "f", &["tinyint(1)", "2 rows", "CAST(f AS SIGNED) AS f"]);
    let (run, dir) = export(
        db.env("SELECT CAST(f AS SIGNED) AS f FROM flags ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("0"), Some("1"), None, Some("2"), Some("-1")]));
    // Native without the cast: counted over the query's result.
    let (run, dir) = export(db.env("SELECT f FROM flags"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_refused(&run, &dir, "f", &["2 rows of the result"]);
}

#[test]
fn mariadb_wide_decimal_is_refused_and_kept_as_text_with_the_cast() {
    let db = MysqlDatabase::create();
    let value = "12345678901234567890.123456789012345678901234567890";
    db.admin(&format!("CREATE TABLE w (id int, v decimal(65,30)); INSERT INTO w VALUES (1, {value}), (2, NULL);"));
    let (run, dir) = export(db.env("SELECT v FROM db.w"), &[]);
    assert_refused(&run, &dir, "v", &["decimal(65,30)", "DOUBLE", "CAST(v AS CHAR) AS v"]);
    let (run, dir) = export(
        db.env("SELECT CAST(v AS CHAR) AS v FROM w ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some(value), None]));
    // What fits DuckDB's DECIMAL(38) stays a number.
    db.admin("CREATE TABLE n (v decimal(38,10)); INSERT INTO n VALUES (1234567890123456789012345678.0123456789);");
    let (run, dir) = export(db.env("SELECT v FROM db.n"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("1234567890123456789012345678.0123456789")]));
}

#[test]
fn mariadb_zero_dates_are_refused_unless_accepted_as_null() {
    let db = MysqlDatabase::create();
    db.admin(
        "SET SESSION sql_mode = ''; CREATE TABLE z (id int, d date, dt datetime); \
         INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), (2, '2024-02-29', '2024-02-29 23:59:59'), \
         (3, NULL, NULL);",
    );
    for column in ["d", "dt"] {
        let (run, dir) = export(db.env(&format!("SELECT {column} FROM db.z ORDER BY id")), &[]);
        assert_refused(&run, &dir, column, &["1 row", "zero dates (0000-00-00) would arrive as NULL"]);
    }
    let (run, dir) = export(db.env("SELECT d FROM db.z ORDER BY id"), &[("ACCEPT_LOSS_COLUMNS", "d")]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[None, Some("2024-02-29"), None]));
    let (run, dir) = export(
        db.env("SELECT CAST(d AS CHAR) AS d FROM z ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("0000-00-00"), Some("2024-02-29"), None]));
}

#[test]
fn mariadb_partial_dates_are_refused_naming_the_column_instead_of_failing_the_export() {
    let db = MysqlDatabase::create();
    db.admin(
        "SET SESSION sql_mode = ''; CREATE TABLE p (id int, born date); \
         INSERT INTO p VALUES (1, '2018-02-00'), (2, '2018-00-00'), (3, '2020-01-01');",
    );
    let (run, dir) = export(db.env("SELECT born FROM db.p"), &[]);
    assert_refused(&run, &dir, "born", &["2 rows", "month or day 0", "CAST(born AS CHAR) AS born"]);
    let (run, dir) = export(
        db.env("SELECT CAST(born AS CHAR) AS born FROM p ORDER BY id"),
        &[("SOURCE_DATABASE_QUERY_DIALECT", "native")],
    );
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("2018-02-00"), Some("2018-00-00"), Some("2020-01-01")]));
}

#[test]
fn mariadb_point_with_srid_arrives_as_standard_wkb_with_its_crs() {
    let db = MysqlDatabase::create();
    db.admin(
        "CREATE TABLE parcels (id int, geom POINT REF_SYSTEM_ID=25832); \
         INSERT INTO parcels VALUES (1, ST_GeomFromText('POINT(691000.5 5335000.25)', 25832)), (2, NULL);",
    );
    let (run, dir) = export(db.env("SELECT id, geom FROM db.parcels ORDER BY id"), &[]);
    assert_exported(&run);
    assert!(run.output().contains("made exact: geom"), "{}", run.output());
    let (geo, points) = geoparquet_points(&result_file(&dir), "geom");
    assert_crs(&geo, "geom", 25832);
    assert_eq!(points, vec![Some((691000.5, 5335000.25)), None]);
}

#[test]
fn mariadb_geometry_without_srid_is_refused_unless_accepted_and_then_standard_wkb() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE spots (geom GEOMETRY); INSERT INTO spots VALUES (ST_GeomFromText('POINT(13.4 52.5)'));");
    let (run, dir) = export(db.env("SELECT geom FROM db.spots"), &[]);
    assert_refused(&run, &dir, "geom", &["declares no SRID", "REF_SYSTEM_ID"]);
    let (run, dir) = export(db.env("SELECT geom FROM db.spots"), &[("ACCEPT_LOSS_COLUMNS", "geom")]);
    assert_exported(&run);
    let (_, points) = geoparquet_points(&result_file(&dir), "geom");
    assert_eq!(points, vec![Some((13.4, 52.5))]);
}

// ---------------------------------------------------------------------------
// Any source: what Parquet cannot hold

#[test]
fn any_source_infinite_dates_and_timetz_are_refused() {
    let (run, dir) = export(memory_source("SELECT 'infinity'::DATE AS d UNION ALL SELECT DATE '2024-01-01'"), &[]);
    assert_refused(&run, &dir, "d", &["1 row in the file"]);
    let (run, dir) = export(memory_source("SELECT '12:00:00+02'::TIMETZ AS t"), &[]);
    assert_refused(&run, &dir, "t", &["offset"]);
    let (run, dir) = export(memory_source("SELECT DATE '2024-01-01' AS d, TIMESTAMP '1900-01-01 00:00:01' AS ts"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), vec![vec![Some("2024-01-01".to_string()), Some("1900-01-01 00:00:01".to_string())]]);
}

#[test]
fn accept_loss_columns_rejects_a_malformed_list() {
    let (run, _dir) = export(memory_source("SELECT 1 AS a"), &[("ACCEPT_LOSS_COLUMNS", "a,,b")]);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(run.output().contains("ACCEPT_LOSS_COLUMNS"), "{}", run.output());
}

// ---------------------------------------------------------------------------
// What the values prove exact is exported, not refused

#[test]
fn mariadb_unsigned_tinyint1_arrives_as_its_numbers() {
    let db = MysqlDatabase::create();
    db.admin("CREATE TABLE u (id int, f tinyint(1) unsigned); INSERT INTO u VALUES (1, 255), (2, 0), (3, NULL);");
    let (run, dir) = export(db.env("SELECT f FROM db.u ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("255"), Some("0"), None]));
}

#[test]
fn mariadb_point_without_declared_srid_gets_the_crs_all_its_values_carry() {
    let db = MysqlDatabase::create();
    db.admin(
        "CREATE TABLE parcels (id int, geom POINT); \
         INSERT INTO parcels VALUES (1, ST_GeomFromText('POINT(691000.5 5335000.25)', 25832)), (2, NULL);",
    );
    let (run, dir) = export(db.env("SELECT id, geom FROM db.parcels ORDER BY id"), &[]);
    assert_exported(&run);
    assert!(run.output().contains("every value carries SRID 25832"), "{}", run.output());
    let (geo, points) = geoparquet_points(&result_file(&dir), "geom");
    assert_crs(&geo, "geom", 25832);
    assert_eq!(points, vec![Some((691000.5, 5335000.25)), None]);
    // Two SRIDs in the values: no CRS to give, refused as before.
    db.admin("INSERT INTO parcels VALUES (3, ST_GeomFromText('POINT(1 2)', 4326));");
    let (run, dir) = export(db.env("SELECT id, geom FROM db.parcels ORDER BY id"), &[]);
    assert_refused(&run, &dir, "geom", &["declares no SRID"]);
}

#[test]
fn postgres_finite_timestamp_equal_to_duckdbs_infinity_is_exported() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE e (id int, ts timestamp); \
         INSERT INTO e VALUES (1, '294247-01-10 04:00:54.775807'), (2, '2024-01-01 00:00:00');",
    );
    let (run, dir) = export(db.env("SELECT ts FROM db.e ORDER BY id"), &[]);
    assert_exported(&run);
    // The file holds that finite timestamp (the largest microsecond count); DuckDB,
    // which reads the file back here, spells those bits `infinity`.
    assert_eq!(rows(&dir), text(&[Some("infinity"), Some("2024-01-01 00:00:00")]));
    // A real infinity beside it is still refused.
    db.exec("INSERT INTO e VALUES (3, 'infinity');");
    let (run, dir) = export(db.env("SELECT ts FROM db.e ORDER BY id"), &[]);
    assert_refused(&run, &dir, "ts", &["infinity"]);
}

#[test]
fn postgres_numeric_with_scale_above_precision_is_written_with_a_wider_scale() {
    let db = PgDatabase::create();
    db.exec("CREATE TABLE n (id int, v numeric(3,5)); INSERT INTO n VALUES (1, 0.00123), (2, -0.00999), (3, NULL);");
    let (run, dir) = export(db.env("SELECT v FROM db.n ORDER BY id"), &[]);
    assert_exported(&run);
    assert!(run.output().contains("made exact: v"), "{}", run.output());
    // DECIMAL(5,5) as DuckDB spells it.
    assert_eq!(rows(&dir), text(&[Some(".00123"), Some("-.00999"), None]));
}

#[test]
fn check_fails_where_a_count_could_not_run_and_predicts_nested_refusals() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE a (id int, amounts numeric(10,2)[], clocks timetz[]); \
         INSERT INTO a VALUES (1, '{1.50,2.00}', '{10:00+01}');",
    );
    let api = MockApi::start(|_, _| (404, "not found".into()));
    let vars = with(
        db.env("SELECT id, amounts FROM db.a"),
        &[("PERSONAL_ACCESS_TOKEN", "pak_exactness_Secret"), ("POLYTEIA_BASE_URL", &api.url), ("DATASET_ID", "ds")],
    );
    let run = connector(&["check"], &vars);
    let out = run.output();
    let line = out.lines().find(|l| l.contains("exact values")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("PASS") && line.contains("amounts (NaN"), "{line}");
    let run = connector(&["check"], &with(vars.clone(), &[("SOURCE_DATABASE_SQL_QUERY", "SELECT clocks FROM db.a")]));
    let out = run.output();
    let line = out.lines().find(|l| l.contains("exact values")).unwrap();
    assert!(line.contains("FAIL") && line.contains("column clocks (") && line.contains("offset"), "{line}");
    // The export of the array without NaN arrives exact.
    let (run, dir) = export(db.env("SELECT amounts FROM db.a"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("[1.50, 2.00]")]));
}

#[test]
fn postgres_array_of_two_dimensions_is_refused_naming_the_column_and_kept_as_text_with_the_cast() {
    let db = PgDatabase::create();
    db.exec(
        "CREATE TABLE m (id int, tags text[], spans interval[]); \
         INSERT INTO m VALUES (1, '{{a,b},{c,d}}', '{{1 day,2 days}}'), (2, '{x}', '{1 hour}');",
    );
    for dialect in ["duckdb", "native"] {
        let from = if dialect == "native" { "m" } else { "db.m" };
        let (run, dir) = export(
            db.env(&format!("SELECT tags FROM {from} ORDER BY id")),
            &[("SOURCE_DATABASE_QUERY_DIALECT", dialect)],
        );
        assert_refused(&run, &dir, "tags", &["more than one dimension", "tags::text AS tags"]);
    }
    let (run, dir) = export(db.env("SELECT spans FROM db.m ORDER BY id"), &[]);
    assert_refused(&run, &dir, "spans", &["more than one dimension", "spans::text AS spans"]);
    // A box is a list of coordinates: its arrays of two dimensions fail elsewhere in the scanner.
    db.exec("CREATE TABLE b (boxes box[]); INSERT INTO b VALUES (ARRAY[[box '(1,1),(0,0)', box '(2,2),(1,1)']]);");
    let (run, dir) = export(db.env("SELECT boxes FROM db.b"), &[]);
    assert_refused(&run, &dir, "boxes", &["more than one dimension", "boxes::text AS boxes"]);
    let (run, dir) =
        export(db.env("SELECT tags::text AS tags FROM m ORDER BY id"), &[("SOURCE_DATABASE_QUERY_DIALECT", "native")]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("{{a,b},{c,d}}"), Some("{x}")]));
}

#[test]
fn mariadb_native_decimal_with_all_its_integral_digits_is_refused_naming_the_column() {
    let db = MysqlDatabase::create();
    db.admin(
        "CREATE TABLE d (id int, v decimal(10,0), u decimal(10,0) unsigned); \
         INSERT INTO d VALUES (1, 2147483647, 4294967295), (2, -1, 0);",
    );
    let native = [("SOURCE_DATABASE_QUERY_DIALECT", "native")];
    for column in ["v", "u"] {
        let (run, dir) = export(db.env(&format!("SELECT {column} FROM d ORDER BY id")), &native);
        assert_refused(&run, &dir, column, &["one digit short", &format!("CAST({column} AS CHAR) AS {column}")]);
    }
    // Both ways out the message gives arrive exact.
    let (run, dir) = export(db.env("SELECT v FROM db.d ORDER BY id"), &[]);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("2147483647"), Some("-1")]));
    let (run, dir) = export(db.env("SELECT CAST(u AS CHAR) AS u FROM d ORDER BY id"), &native);
    assert_exported(&run);
    assert_eq!(rows(&dir), text(&[Some("4294967295"), Some("0")]));
}
