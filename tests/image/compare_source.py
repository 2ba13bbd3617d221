#!/usr/bin/env python3
"""Compares a Parquet file with the rows of its source, value by value (scripts/check-image).

    compare_source.py postgres|mysql CONNECT_JSON SOURCE_QUERY PARQUET_FILE

CONNECT_JSON holds the connection arguments for psycopg (postgres) or PyMySQL (mysql).
SOURCE_QUERY runs on the source itself, in its own dialect, and returns the columns in
the file's order (geometry as standard WKB: ST_AsBinary). The Parquet file is read with
pyarrow, independently of DuckDB. Exits 0 when names, row count and every value are
equal (of the same Python type; numbers exactly, instants as instants, geometry byte
for byte), else prints each
difference (at most 20) and exits 1.
"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def source_rows(kind, connect, query):
    if kind == "postgres":
        import psycopg

        with psycopg.connect(**connect) as con, con.cursor() as cur:
            cur.execute(query)
            return [d.name for d in cur.description], [list(r) for r in cur.fetchall()]
    import pymysql

    # PyMySQL would encode a str password as Latin-1; the server holds its UTF-8 bytes.
    connect["password"] = connect["password"].encode()
    con = pymysql.connect(**connect)
    try:
        with con.cursor() as cur:
            cur.execute(query)
            return [d[0] for d in cur.description], [list(r) for r in cur.fetchall()]
    finally:
        con.close()


def parquet_rows(path):
    table = pq.read_table(path)
    columns = []
    for column in table.columns:
        # A geometry column may come back as an extension type: compare its WKB bytes.
        if isinstance(column.type, pa.ExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
        columns.append(column.to_pylist())
    return table.column_names, [list(r) for r in zip(*columns)]


def same(a, b):
    if isinstance(a, (bytes, bytearray, memoryview)) and isinstance(b, (bytes, bytearray, memoryview)):
        return bytes(a) == bytes(b)
    # The same Python type too: 1 is not True, 1.0 is not Decimal("1.0").
    return type(a) is type(b) and a == b


def main():
    kind, connect, query, path = sys.argv[1:5]
    names, rows = source_rows(kind, json.loads(connect), query)
    file_names, file_rows = parquet_rows(path)
    problems = []
    if names != file_names:
        problems.append(f"columns: source {names}, file {file_names}")
    if len(rows) != len(file_rows):
        problems.append(f"rows: source {len(rows)}, file {len(file_rows)}")
    for i, (want, got) in enumerate(zip(rows, file_rows)):
        for name, a, b in zip(names, want, got):
            if not same(a, b):
                problems.append(f"row {i + 1}, column {name}: source {a!r}, file {b!r}")
    if problems:
        for line in problems[:20]:
            print(f"compare_source: {line}", file=sys.stderr)
        sys.exit(1)
    print(f"{len(rows)} rows x {len(names)} columns equal to the source ({', '.join(names)})")


if __name__ == "__main__":
    main()
