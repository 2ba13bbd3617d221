"""Driver of bench/compare (run it through that script: it prepares the venv).

Creates the benchmark tables, times every tool extracting the same table into
Parquet (alternating tools, several repetitions), checks the files agree and
prints a Markdown table; a JSON file with every single run goes to bench/results/.

Each tool runs in its own process under /usr/bin/time -v, so wall time and peak
RSS are the whole process's (Python interpreter start included for the peers,
DuckDB start and extension load included for the connector).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchlib

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = benchlib.PG
MY = dict(host="127.0.0.1", port=3306, user="root")
DB = "connector_bench"

ALL_TOOLS = ["connector", "duckdb-python", "connectorx", "pandas", "floor"]

# ----------------------------------------------------------------------------
# Table setup (server-side generation; idempotent)

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
    "ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore"
)


def psql(sql, db=DB, capture=True):
    return benchlib.psql(sql, db, "bench", capture)


def mariadb(sql, db=DB):
    cmd = ["mariadb", "-h", MY["host"], "-P", str(MY["port"]), "-u", MY["user"], "-N", "-B"]
    if db:
        cmd += ["-D", db]
    proc = subprocess.run(cmd + ["-e", sql], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: mariadb failed: {proc.stderr}")
    return proc.stdout


def ensure_pg_table(rows):
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'", db="postgres").strip() != "1":
        psql(f"CREATE DATABASE {DB}", db="postgres")
    table = f"bench_rows_{rows}"
    exists = psql(f"SELECT to_regclass('{table}') IS NOT NULL").strip() == "t"
    if exists and psql(f"SELECT count(*) FROM {table}").strip() == str(rows):
        return False
    print(f"bench: creating PostgreSQL {DB}.{table}", file=sys.stderr)
    started = time.time()
    lorem = LOREM.replace("'", "''")
    psql(f"""
        DROP TABLE IF EXISTS {table};
        CREATE UNLOGGED TABLE {table} (
            id bigint PRIMARY KEY, quantity int, big bigint, amount numeric(12,2), code text,
            description text, created_at timestamp, day date, active boolean, score double precision);
        INSERT INTO {table}
        SELECT g,
               CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7919) % 100000 END,
               g * 1000003,
               ((g * 31) % 10000000) / 100.0,
               'C-' || (g % 5000),
               CASE WHEN g % 10 = 0 THEN NULL
                    ELSE substr('{lorem}', (g % 97)::int + 1, 160) || ' #' || md5(g::text) END,
               CASE WHEN g % 23 = 0 THEN NULL
                    ELSE timestamp '2020-01-01' + (g * 37 % 157766400) * interval '1 second' END,
               date '2000-01-01' + (g % 9000)::int,
               CASE WHEN g % 29 = 0 THEN NULL ELSE g % 3 = 0 END,
               (g % 100003) * 1.0001
        FROM generate_series(1::bigint, {rows}) g;
        ANALYZE {table};""")
    print(f"bench: created in {time.time() - started:.0f}s", file=sys.stderr)
    return True


def ensure_mysql_table(rows):
    mariadb(f"CREATE DATABASE IF NOT EXISTS {DB}", db=None)
    table = f"bench_rows_{rows}"
    exists = mariadb(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{DB}' "
                     f"AND table_name = '{table}'").strip() == "1"
    if exists and mariadb(f"SELECT count(*) FROM {table}").strip() == str(rows):
        return False
    print(f"bench: creating MariaDB {DB}.{table}", file=sys.stderr)
    started = time.time()
    lorem = LOREM.replace("'", "''")
    # seq_1_to_N is MariaDB's SEQUENCE engine: a server-side generate_series.
    mariadb(f"""
        DROP TABLE IF EXISTS {table};
        CREATE TABLE {table} (
            id bigint PRIMARY KEY, quantity int, big bigint, amount decimal(12,2), code varchar(16),
            description varchar(255), created_at datetime, day date, active boolean, score double
        ) ENGINE=InnoDB CHARACTER SET utf8mb4;
        SET unique_checks = 0;
        INSERT INTO {table}
        SELECT seq,
               IF(seq % 17 = 0, NULL, (seq * 7919) % 100000),
               seq * 1000003,
               ((seq * 31) % 10000000) / 100.0,
               CONCAT('C-', seq % 5000),
               IF(seq % 10 = 0, NULL, CONCAT(SUBSTR('{lorem}', seq % 97 + 1, 160), ' #', MD5(seq))),
               IF(seq % 23 = 0, NULL, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (seq * 37 % 157766400) SECOND),
               DATE '2000-01-01' + INTERVAL (seq % 9000) DAY,
               IF(seq % 29 = 0, NULL, seq % 3 = 0),
               (seq % 100003) * 1.0001
        FROM seq_1_to_{rows};
        ANALYZE TABLE {table};""")
    print(f"bench: created in {time.time() - started:.0f}s", file=sys.stderr)
    return True


# ----------------------------------------------------------------------------
# The tools. Each is one command line; the Python peers run bench/compare_peer.py.

def tool_command(tool, db, table, out):
    query = f"SELECT * FROM {table}"
    if tool == "connector":
        env = {
            "SOURCE_DATABASE_TYPE": "postgres" if db == "postgres" else "mysql",
            "SOURCE_DATABASE_HOST": "127.0.0.1",
            "SOURCE_DATABASE_PORT": str(PG["port"] if db == "postgres" else MY["port"]),
            "SOURCE_DATABASE_USER": PG["user"] if db == "postgres" else MY["user"],
            "SOURCE_DATABASE_NAME": DB,
            "SOURCE_DATABASE_SQL_QUERY": query,
            "DUCKDB_EXTENSION_DIRECTORY": os.environ["DUCKDB_EXTENSION_DIRECTORY"],
            "TEMP_DIR": str(out.parent),
            "LOG_LEVEL": "warn",
        }
        # Extra connector settings for tuning runs: BENCH_CONNECTOR_ENV="DUCKDB_THREADS=1 ...".
        for pair in shlex.split(os.environ.get("BENCH_CONNECTOR_ENV", "")):
            k, v = pair.split("=", 1)
            env[k] = v
        return [os.environ["CONNECTOR_BIN"], "export", "--output", str(out)], env, True
    if tool == "floor":
        if db == "postgres":
            return (["psql", "-X", "-q", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-d", DB,
                     "-c", f"COPY ({query}) TO STDOUT (FORMAT binary)"], None, False)
        return (["mariadb", "--quick", "-h", MY["host"], "-P", str(MY["port"]), "-u", MY["user"], "-D", DB,
                 "-e", query], None, False)
    return [PY, str(ROOT / "bench" / "compare_peer.py"), tool, db, table, str(out)], None, True


def floor_name(db):
    return "psql COPY binary (floor)" if db == "postgres" else "mariadb --quick (floor)"


def run_tool(tool, db, table, out, workdir):
    argv, env, writes = tool_command(tool, db, table, out)
    if out.exists():
        out.unlink()
    timing = workdir / "time.txt"
    full_env = None
    if env is not None:
        full_env = {"PATH": os.environ["PATH"], **env}
    started = time.monotonic()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", str(timing)] + argv, env=full_env,
                              stdout=devnull, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} on {db} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    measured = benchlib.parse_time_v(timing)
    wall, rss = measured.get("time_v_seconds"), measured.get("peak_rss_bytes")
    size = out.stat().st_size if writes else None
    # GNU time's wall clock has 10 ms resolution; ours is finer and includes the same process.
    return {"tool": tool, "db": db, "seconds": elapsed, "time_v_seconds": wall, "peak_rss_bytes": rss,
            "parquet_bytes": size}


def checksum(path):
    """Row count and a few aggregates, read from the Parquet file with DuckDB."""
    import duckdb
    con = duckdb.connect()
    row = con.execute(
        "SELECT count(*), sum(id::HUGEINT)::VARCHAR, sum(quantity::HUGEINT)::VARCHAR, "
        "count(*) - count(quantity), count(*) - count(description), sum(length(description))::VARCHAR, "
        "count(*) - count(created_at) FROM read_parquet(?)", [str(path)]).fetchone()
    con.close()
    return {"rows": row[0], "sum_id": row[1], "sum_quantity": row[2], "null_quantity": row[3],
            "null_description": row[4], "sum_len_description": row[5], "null_created_at": row[6]}


# ----------------------------------------------------------------------------
# Machine description

def machine():
    import duckdb
    from importlib.metadata import version
    peers = {p: version(p) for p in ["connectorx", "pyarrow", "duckdb", "pandas", "SQLAlchemy", "psycopg2-binary",
                                     "PyMySQL"]}
    return {
        **benchlib.host(),
        "postgresql": psql("SHOW server_version", db="postgres").strip(),
        "postgresql_shared_buffers": psql("SHOW shared_buffers", db="postgres").strip(),
        "mariadb": mariadb("SELECT VERSION()", db=None).strip(),
        "mariadb_innodb_buffer_pool": mariadb("SELECT @@innodb_buffer_pool_size DIV 1048576", db=None).strip() + "MB",
        "connector": benchlib.sh(f"{shlex.quote(os.environ['CONNECTOR_BIN'])} version").replace("\n", " "),
        "python": platform.python_version(),
        "peers": peers,
        "load_average_at_start": os.getloadavg(),
    }


# ----------------------------------------------------------------------------

def fmt_bytes(n):
    return "–" if n is None else f"{n / 1e6:,.0f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000, help="table size (default 5000000)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per tool (default 3); the median is reported")
    ap.add_argument("--dbs", default="postgres,mysql", help="comma-separated: postgres,mysql")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help=f"comma-separated subset of {','.join(ALL_TOOLS)}")
    ap.add_argument("--workdir", default=os.environ.get("BENCH_DIR", "/var/tmp/polyteia-db-connector-bench/compare"))
    ap.add_argument("--label", default="", help="a note stored in the JSON (e.g. the settings under test)")
    ap.add_argument("--setup-only", action="store_true", help="only create the tables")
    args = ap.parse_args()

    dbs = [d for d in args.dbs.split(",") if d]
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in ALL_TOOLS:
            ap.error(f"unknown tool {t}")
    table = f"bench_rows_{args.rows}"
    for db in dbs:
        (ensure_pg_table if db == "postgres" else ensure_mysql_table)(args.rows)
    if args.setup_only:
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    info = machine()
    runs = []
    sums = {}
    # Alternate: each repetition runs every (db, tool) once, rotating the tool order,
    # so that a burst of load from elsewhere hits every tool alike.
    for rep in range(args.reps):
        for db in dbs:
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                out = workdir / f"{db}-{tool}.parquet"
                r = run_tool(tool, db, table, out, workdir)
                r["rep"] = rep
                if r["parquet_bytes"] is not None and rep == 0:
                    sums[(db, tool)] = checksum(out)
                runs.append(r)
                print(f"bench: rep {rep + 1}/{args.reps} {db:8} {tool:14} {r['seconds']:7.2f}s "
                      f"rss {r['peak_rss_bytes'] / 1e6:7.0f} MB", file=sys.stderr)
                if out.exists():
                    out.unlink()

    # The files must agree: same rows, same aggregates, whoever wrote them.
    mismatches = []
    for db in dbs:
        ref = sums.get((db, "connector")) or next((v for (d, _), v in sums.items() if d == db), None)
        for (d, tool), s in sums.items():
            if d == db and s != ref:
                mismatches.append(f"{db}/{tool}: {s} != {ref}")
            if d == db and s["rows"] != args.rows:
                mismatches.append(f"{db}/{tool}: {s['rows']} rows, expected {args.rows}")

    summary = []
    for db in dbs:
        med = {}
        for tool in tools:
            rs = [r for r in runs if r["db"] == db and r["tool"] == tool]
            med[tool] = {
                "seconds": statistics.median(r["seconds"] for r in rs),
                "peak_rss_bytes": int(statistics.median(r["peak_rss_bytes"] for r in rs)),
                "parquet_bytes": rs[0]["parquet_bytes"],
                "all_seconds": [round(r["seconds"], 3) for r in rs],
            }
        base = med.get("connector")
        for tool in tools:
            m = med[tool]
            row = {"db": db, "tool": floor_name(db) if tool == "floor" else tool, **m,
                   "rows_per_s": args.rows / m["seconds"],
                   "mb_per_s": None if m["parquet_bytes"] is None else m["parquet_bytes"] / 1e6 / m["seconds"]}
            if base and tool != "connector":
                row["time_vs_connector"] = m["seconds"] / base["seconds"]
                row["rss_vs_connector"] = m["peak_rss_bytes"] / base["peak_rss_bytes"]
            summary.append(row)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out_json = results / f"compare-{args.rows}-{stamp}.json"
    out_json.write_text(json.dumps({"rows": args.rows, "reps": args.reps, "label": args.label, "machine": info,
                                    "checksums": {f"{d}/{t}": v for (d, t), v in sums.items()},
                                    "checksum_mismatches": mismatches, "summary": summary, "runs": runs},
                                   indent=2, default=str))

    print(f"\n`SELECT * FROM {table}` ({args.rows:,} rows) → Parquet, median of {args.reps}; "
          f"time ratio = tool time / `connector export` time (> 1: connector faster).\n")
    print("| source | tool | median wall | rows/s | Parquet | MB/s | peak RSS | time ÷ connector | RSS ÷ connector |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in summary:
        ratio = f"{r['time_vs_connector']:.2f}×" if "time_vs_connector" in r else "1"
        rss_ratio = f"{r['rss_vs_connector']:.2f}×" if "rss_vs_connector" in r else "1"
        mbs = "–" if r["mb_per_s"] is None else f"{r['mb_per_s']:.1f}"
        print(f"| {'PostgreSQL' if r['db'] == 'postgres' else 'MariaDB'} | {r['tool']} | {r['seconds']:.2f} s | "
              f"{r['rows_per_s'] / 1e6:.2f} M | {fmt_bytes(r['parquet_bytes'])} | {mbs} | "
              f"{r['peak_rss_bytes'] / 1e6:,.0f} MB | {ratio} | {rss_ratio} |")
    print(f"\nMachine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, Linux {info['kernel']}; "
          f"PostgreSQL {info['postgresql']} (shared_buffers {info['postgresql_shared_buffers']}), "
          f"MariaDB {info['mariadb']} (buffer pool {info['mariadb_innodb_buffer_pool']}); {info['connector']}; "
          f"Python {info['python']}, " + ", ".join(f"{k} {v}" for k, v in info["peers"].items()) + ".")
    if mismatches:
        print("\nCHECKSUM MISMATCH:\n" + "\n".join(mismatches))
    else:
        print(f"\nChecksums agree across all Parquet files ({', '.join(sorted(next(iter(sums.values())).keys()))}).")
    print(f"JSON: {out_json.relative_to(ROOT)}", file=sys.stderr)
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
