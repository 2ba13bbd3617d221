//! Reading a Parquet file's own metadata: how an export is verified, and
//! what `connector upload` checks before it sends a file.

use std::path::Path;

use duckdb::Connection;

use super::engine::{path_str, verify_library_version};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::sql_literal;

/// Row and column count from a Parquet file's own metadata.
pub(crate) fn parquet_shape(conn: &Connection, file: &Path) -> Result<(u64, usize)> {
    let literal = sql_literal(&path_str(file)?);
    let verify_error = |e: duckdb::Error| {
        Error::new(ErrorKind::Verification, format!("cannot read {} as Parquet: {e}", file.display()))
    };
    let rows: i64 = conn
        .query_row(&format!("SELECT CAST(sum(num_rows) AS BIGINT) FROM parquet_file_metadata({literal})"), [], |r| {
            r.get(0)
        })
        .map_err(verify_error)?;
    let columns: i64 = conn
        .query_row(&format!("SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet({literal}))"), [], |r| r.get(0))
        .map_err(verify_error)?;
    Ok((rows as u64, columns as usize))
}

/// Rows and columns of an existing Parquet file (for `connector upload`),
/// read from its metadata by a throw-away in-memory DuckDB.
pub fn inspect_parquet(file: &Path) -> Result<(u64, usize)> {
    if !file.is_file() {
        return Err(Error::new(ErrorKind::LocalIo, format!("{} is not a file", file.display())));
    }
    let conn = Connection::open_in_memory()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start DuckDB: {e}")))?;
    verify_library_version(&conn)?;
    parquet_shape(&conn, file)
}
