"""Driver of bench/lineitem (run it through that script: it prepares the venv).

Makes the TPC-H lineitem table in PostgreSQL once (DuckDB's dbgen, then COPY),
times `connector export` of `SELECT * FROM db.public.lineitem` for one binary or
two (A B A B ... after one warm-up run of each), checks that the files agree,
and prints a Markdown table; a JSON file with every run goes to bench/results/.

Every run is its own process under /usr/bin/time -v: wall time, CPU (user +
system of the connector process, not of the server) and peak RSS are the
whole process's, DuckDB's start and the extension load included.
"""

import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import benchlib

ROOT = Path(__file__).resolve().parent.parent
PG = benchlib.PG
DB = "connector_bench_tpch"
QUERY = "SELECT * FROM db.public.lineitem"
# The numeric(15,2) columns of lineitem: what the exactness check counts NaN in.
NUMERIC_COLUMNS = ["l_quantity", "l_extendedprice", "l_discount", "l_tax"]
# TPC-H's row count of lineitem per scale factor (dbgen's, fixed by the spec's seeds).
ROWS = {0.01: 60_175, 0.1: 600_572, 1: 6_001_215, 10: 59_986_052}

# The standard TPC-H schema (dbgen's dss.ddl): DECIMAL(15,2) is numeric(15,2) here.
DDL = """
CREATE TABLE lineitem (
    l_orderkey      integer       NOT NULL,
    l_partkey       integer       NOT NULL,
    l_suppkey       integer       NOT NULL,
    l_linenumber    integer       NOT NULL,
    l_quantity      decimal(15,2) NOT NULL,
    l_extendedprice decimal(15,2) NOT NULL,
    l_discount      decimal(15,2) NOT NULL,
    l_tax           decimal(15,2) NOT NULL,
    l_returnflag    char(1)       NOT NULL,
    l_linestatus    char(1)       NOT NULL,
    l_shipdate      date          NOT NULL,
    l_commitdate    date          NOT NULL,
    l_receiptdate   date          NOT NULL,
    l_shipinstruct  char(25)      NOT NULL,
    l_shipmode      char(10)      NOT NULL,
    l_comment       varchar(44)   NOT NULL
)"""
COLUMNS = [line.split()[0] for line in DDL.strip().splitlines()[1:-1]]


def psql(sql, db=DB, capture=True):
    return benchlib.psql(sql, db, "lineitem", capture)


def marker(sf):
    # Stored as the table's comment: a table of another size or generator is made again.
    return f"TPC-H lineitem, dbgen sf={sf} of DuckDB {os.environ['DUCKDB_VERSION']} tpch extension"


def ensure_table(sf, workdir):
    """The table, once: skipped when it exists with the marker and the row count."""
    rows = ROWS[sf]
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'", db="postgres").strip():
        psql(f"CREATE DATABASE {DB}", db="postgres")
    comment = psql("SELECT obj_description(to_regclass('public.lineitem'), 'pg_class')").strip()
    if comment == marker(sf) and psql("SELECT count(*) FROM lineitem").strip() == str(rows):
        print(f"lineitem: {DB}.public.lineitem exists with {rows:,} rows (sf={sf})", file=sys.stderr)
        return
    print(f"lineitem: generating TPC-H lineitem sf={sf} ({rows:,} rows)", file=sys.stderr)
    started = time.time()
    import duckdb
    import duckdb_extension_tpch
    ext = next(Path(duckdb_extension_tpch.__file__).parent.glob("extensions/*/tpch.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    con.execute(f"CALL dbgen(sf={sf})")
    csv = workdir / "lineitem.csv"
    con.execute(f"COPY (SELECT {', '.join(COLUMNS)} FROM lineitem) TO '{csv}' (FORMAT csv, HEADER false)")
    con.close()
    print(f"lineitem: generated in {time.time() - started:.0f}s, loading into PostgreSQL", file=sys.stderr)
    psql(f"DROP TABLE IF EXISTS lineitem; {DDL}")
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"],
           "-d", DB, "-c", f"\\copy lineitem FROM '{csv}' WITH (FORMAT csv)"]
    if subprocess.run(cmd).returncode != 0:
        sys.exit("lineitem: loading the CSV failed")
    csv.unlink()
    # Frozen and analysed, so that no run pays for hint bits or statistics.
    psql("VACUUM (FREEZE, ANALYZE) lineitem")
    psql(f"COMMENT ON TABLE lineitem IS '{marker(sf)}'")
    got = psql("SELECT count(*) FROM lineitem").strip()
    if got != str(rows):
        sys.exit(f"lineitem: the table has {got} rows, expected {rows}")
    print(f"lineitem: table ready in {time.time() - started:.0f}s", file=sys.stderr)


def postmaster_pid():
    """The PostgreSQL server's main process, when it runs on this machine (else None)."""
    try:
        data = psql("SHOW data_directory", db="postgres").strip()
        return int((Path(data) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_cpu(pid):
    """CPU seconds of the server's ended children (backends, parallel workers): the
    postmaster reaps them, so their time adds up in its cutime + cstime."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def server_processes(pid):
    """The PostgreSQL server's processes: the postmaster and its children."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [int(c) for c in children]


def pin_server(pid, cpu):
    """Pins the server's processes to `cpu` (backends forked later inherit it) and
    returns what restores their affinity."""
    before = {}
    for p in server_processes(pid):
        try:
            before[p] = os.sched_getaffinity(p)
            os.sched_setaffinity(p, {cpu})
        except OSError:
            pass  # a process that ended meanwhile

    def restore():
        for p, cpus in before.items():
            try:
                os.sched_setaffinity(p, cpus)
            except OSError:
                pass
    return restore


def run_export(binary, out, workdir, log_level, extra_env, server_pid, count_beside=False, cpu=None):
    env = {
        "PATH": os.environ["PATH"],
        "SOURCE_DATABASE_TYPE": "postgres",
        "SOURCE_DATABASE_HOST": PG["host"],
        "SOURCE_DATABASE_PORT": str(PG["port"]),
        "SOURCE_DATABASE_USER": PG["user"],
        "SOURCE_DATABASE_NAME": DB,
        "SOURCE_DATABASE_SQL_QUERY": QUERY,
        "DUCKDB_EXTENSION_DIRECTORY": os.environ["DUCKDB_EXTENSION_DIRECTORY"],
        "TEMP_DIR": str(workdir),
        "LOG_LEVEL": log_level,
        **extra_env,
    }
    if out.exists():
        out.unlink()
    timing = workdir / "time.txt"
    load = os.getloadavg()[0]
    cpu_before = server_cpu(server_pid)
    started = time.monotonic()
    # "A+count": the server counts beside an export that does not, as B's check does.
    beside = subprocess.Popen(count_command(), stdout=subprocess.DEVNULL) if count_beside else None
    pin = [] if cpu is None else ["taskset", "-c", str(cpu)]
    proc = subprocess.run(pin + ["/usr/bin/time", "-v", "-o", str(timing), binary, "export", "--output", str(out)],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if beside is not None and beside.wait() != 0:
        raise SystemExit("lineitem: the count beside the export failed")
    elapsed = time.monotonic() - started
    # The backends have ended with the connector's connections; give the postmaster
    # a moment to reap them so that their CPU is counted.
    time.sleep(0.2)
    cpu_after = server_cpu(server_pid)
    log = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"lineitem: {binary} failed ({proc.returncode}): {log[-2000:]}")
    server = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    # The connector's own account of its phases (LOG_LEVEL info or debug): what is not
    # connect, query (the COPY, and the count B runs beside it) or verify is the time
    # before the COPY (DESCRIBE, the catalog query).
    phases = {k: float(v) for k, v in re.findall(r"\b(connect|query|verify|total)_seconds=([0-9.]+)", log)}
    if len(phases) == 4:
        phases["before_copy"] = phases["total"] - phases["connect"] - phases["query"] - phases["verify"]
    return {"seconds": elapsed, "load_1min_before": load, "parquet_bytes": out.stat().st_size,
            "server_cpu_seconds": server, "phases": phases,
            **benchlib.parse_time_v(timing), "log": log if log_level != "warn" else ""}


def checksum(path):
    """Row count and aggregates of every column kind, read back from the Parquet file."""
    import duckdb
    con = duckdb.connect()
    row = con.execute(
        "SELECT count(*), sum(l_orderkey::HUGEINT)::VARCHAR, sum(l_quantity)::VARCHAR, "
        "sum(l_extendedprice)::VARCHAR, sum(l_discount)::VARCHAR, sum(l_tax)::VARCHAR, "
        "sum(l_shipdate - DATE '1992-01-01')::VARCHAR, sum(length(l_comment))::VARCHAR, "
        "count(DISTINCT l_shipmode) FROM read_parquet(?)", [str(path)]).fetchone()
    con.close()
    names = ["rows", "sum_orderkey", "sum_quantity", "sum_extendedprice", "sum_discount", "sum_tax",
             "sum_shipdate_days", "sum_len_comment", "distinct_shipmode"]
    return dict(zip(names, row))


def row_count(path):
    """The row count of a Parquet file from its metadata (B's file with --b-env may hold other values)."""
    import duckdb
    con = duckdb.connect()
    rows = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(path)]).fetchone()[0]
    con.close()
    return rows


def count_sql():
    """The scan the exactness check has the server run while the COPY runs (src/source/exactness.rs,
    Plan::take_counts: one filter for all columns; the counts per column follow only when it finds
    rows, which lineitem has none of), or BENCH_COUNT_SQL to try another formulation."""
    if os.environ.get("BENCH_COUNT_SQL"):
        return os.environ["BENCH_COUNT_SQL"]
    found = " OR ".join(f"(\"{c}\" = 'NaN')" for c in NUMERIC_COLUMNS)
    return f'SELECT COUNT(*) AS found FROM "public"."lineitem" WHERE {found}'


def count_command():
    return ["psql", "-X", "-q", "-At", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-d", DB,
            "-c", count_sql()]


def time_count_query(reps):
    """The NaN count alone, via psql's \\timing."""
    sql = count_sql()
    results = []
    for _ in range(reps):
        cmd = ["psql", "-X", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-d", DB,
               "-c", "\\timing on", "-c", sql]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        ms = float(re.search(r"Time: ([0-9.]+) ms", out).group(1))
        results.append(ms / 1000)
    # Also what the planner makes of it (parallel workers take cores from the COPY).
    plan = psql(f"EXPLAIN {sql}")
    return {"sql": sql, "seconds": results, "plan": plan}


def machine(binaries):
    settings = [f"{name} {psql(f'SHOW {name}', db='postgres').strip()}"
                for name in ["shared_buffers", "max_parallel_workers_per_gather", "ssl"]]
    return {
        **benchlib.host(),
        "postgresql": psql("SHOW server_version", db="postgres").strip(),
        "postgresql_settings": settings,
        "table_size": psql("SELECT pg_size_pretty(pg_table_size('lineitem'))").strip(),
        "binaries": {label: {"path": b, "version": benchlib.sh(f"{shlex.quote(b)} version").replace("\n", " ")}
                     for label, b in binaries.items()},
        "load_average_at_start": os.getloadavg(),
    }


def med(values):
    return statistics.median(values), min(values), max(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="*", help="one or two connector binaries (A, B); default: this checkout's "
                                                "release build")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per binary after the warm-up (default 5)")
    ap.add_argument("--sf", type=float, default=1, choices=sorted(ROWS), help="TPC-H scale factor (default 1)")
    ap.add_argument("--count-query", action="store_true",
                    help="afterwards, time the exactness check's NaN count alone on the server (psql \\timing)")
    ap.add_argument("--a-plus-count", action="store_true",
                    help="a third series, A+count: A with the NaN count run by psql beside it (what the server's "
                         "count costs the export, without the rest of B's check)")
    ap.add_argument("--log-level", default="warn",
                    help="LOG_LEVEL of the connector; its log of each run goes into the JSON (default warn)")
    ap.add_argument("--workdir", default=os.environ.get("BENCH_DIR", "/var/tmp/polyteia-db-connector-bench/lineitem"))
    ap.add_argument("--label", default="", help="a note stored in the JSON")
    ap.add_argument("--b-env", default="",
                    help="settings for B only (NAME=value, space-separated as in a shell): time a setting with one "
                         "build, e.g. A and B the same binary and --b-env 'PSEUDONYMIZE_COLUMNS=l_orderkey,l_comment "
                         "PSEUDONYMIZATION_KEY=...'; B's file is then compared by its row count only")
    ap.add_argument("--setup-only", action="store_true", help="only create the table")
    ap.add_argument("--separate-cores", action="store_true",
                    help="the PostgreSQL server on CPU 0 and the connector on CPU 1 (restored afterwards), as "
                         "when the database runs on a machine of its own: neither takes CPU from the other")
    args = ap.parse_args()
    sf = int(args.sf) if args.sf == int(args.sf) else args.sf
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_table(sf, workdir)
    if args.setup_only:
        return

    paths = args.binaries or [os.environ["CONNECTOR_DEFAULT_BIN"]]
    if len(paths) > 2:
        ap.error("at most two binaries (A and B)")
    binaries = dict(zip("AB", [str(Path(p).resolve()) for p in paths]))
    if args.a_plus_count:
        binaries["A+count"] = binaries["A"]
    for label, b in binaries.items():
        if not os.access(b, os.X_OK):
            ap.error(f"{label}: {b} is not an executable")
    ext = Path(os.environ["DUCKDB_EXTENSION_DIRECTORY"]) / f"v{os.environ['DUCKDB_VERSION']}" / "linux_amd64"
    if not (ext / "postgres_scanner.duckdb_extension").is_file():
        sys.exit(f"lineitem: no postgres_scanner extension in {ext}: run scripts/fetch-extensions")
    extra_env = dict(pair.split("=", 1) for pair in shlex.split(os.environ.get("BENCH_CONNECTOR_ENV", "")))
    b_env = dict(pair.split("=", 1) for pair in shlex.split(args.b_env))
    if b_env and len(paths) == 1:
        binaries["B"] = binaries["A"]

    info = machine(binaries)
    server_pid = postmaster_pid()
    restore = lambda: None  # noqa: E731
    if args.separate_cores:
        if server_pid is None or os.cpu_count() < 2:
            sys.exit("lineitem: --separate-cores needs the local PostgreSQL server and two CPUs")
        restore = pin_server(server_pid, 0)
    try:
        runs, sums, mismatches, count = timed_runs(args, binaries, workdir, extra_env, b_env, server_pid, sf)
    finally:
        restore()
    report(args, binaries, info, runs, sums, mismatches, count, extra_env, b_env, sf)


def timed_runs(args, binaries, workdir, extra_env, b_env, server_pid, sf):
    rows = ROWS[sf]
    runs, sums = [], {}
    # A B A B ...: a burst of load from elsewhere hits both alike. Run 0 warms the
    # server's page cache and the extension file and is not counted.
    for rep in range(args.reps + 1):
        for label, b in binaries.items():
            out = workdir / f"lineitem-{label}.parquet"
            env = {**extra_env, **b_env} if label == "B" else extra_env
            r = run_export(b, out, workdir, args.log_level, env, server_pid, label == "A+count",
                           cpu=1 if args.separate_cores else None)
            r.update(binary=label, rep=rep, warmup=rep == 0)
            if rep == 0:
                sums[label] = checksum(out) if not (b_env and label == "B") else {"rows": row_count(out)}
            out.unlink()
            runs.append(r)
            print(f"lineitem: {'warm-up' if rep == 0 else f'run {rep}/{args.reps}'} {label} "
                  f"{r['seconds']:6.2f}s cpu {r['user_seconds'] + r['system_seconds']:6.2f}s "
                  f"server cpu {r['server_cpu_seconds'] or 0:6.2f}s rss {r['peak_rss_bytes'] / 2**20:5.0f} MiB "
                  f"load {r['load_1min_before']:.2f}", file=sys.stderr)

    mismatches = [f"{label}: {s}" for label, s in sums.items()
                  if (s != sums["A"] and not (b_env and label == "B")) or s["rows"] != rows]
    count = time_count_query(3) if args.count_query else None
    return runs, sums, mismatches, count


def report(args, binaries, info, runs, sums, mismatches, count, extra_env, b_env, sf):
    rows = ROWS[sf]
    timed = [r for r in runs if not r["warmup"]]
    summary = {}
    for label in binaries:
        rs = [r for r in timed if r["binary"] == label]
        summary[label] = {
            "seconds": med([r["seconds"] for r in rs]),
            "cpu_seconds": med([r["user_seconds"] + r["system_seconds"] for r in rs]),
            "peak_rss_mib": med([r["peak_rss_bytes"] / 2**20 for r in rs]),
            "load": med([r["load_1min_before"] for r in rs]),
            "server_cpu_seconds": None if any(r["server_cpu_seconds"] is None for r in rs)
            else med([r["server_cpu_seconds"] for r in rs]),
        }
        if all(len(r["phases"]) == 5 for r in rs):
            summary[label]["phases"] = {k: statistics.median(r["phases"][k] for r in rs) for k in rs[0]["phases"]}
    def pair_ratios(label):
        # Run i of `label` against run i of A: the two ran next to each other.
        a = [r["seconds"] for r in timed if r["binary"] == "A"]
        x = [r["seconds"] for r in timed if r["binary"] == label]
        return [y / z for z, y in zip(a, x)] if x else None

    ratios, a_ratios = pair_ratios("B"), pair_ratios("A+count")

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    out_json = results / f"lineitem-{stamp}.json"
    out_json.write_text(json.dumps({"sf": sf, "rows": rows, "query": QUERY, "reps": args.reps, "label": args.label,
                                    "separate_cores": args.separate_cores,
                                    "extra_env": extra_env, "b_env": sorted(b_env), "count_sql": count_sql(), "machine": info, "checksums": sums,
                                    "checksum_mismatches": mismatches, "summary": summary,
                                    "ratios_b_over_a": ratios,
                                    "ratios_a_plus_count_over_a": a_ratios, "count_query": count, "runs": runs},
                                   indent=2, default=str))

    print(f"\n`connector export` of `{QUERY}` (TPC-H lineitem sf={sf}, {rows:,} rows, "
          f"{info['table_size']} in PostgreSQL), {args.reps} runs each after a warm-up, "
          f"{'alternating A B' if ratios else 'one binary'}"
          f"{'; the server pinned to CPU 0, the connector to CPU 1' if args.separate_cores else ''}.\n")
    print("| | wall (median, min–max) | CPU of connector (median) | CPU of server (median) | "
          "peak RSS (median, min–max) | load 1 min (median, min–max) |")
    print("| --- | --- | --- | --- | --- | --- |")

    def server(s):
        return "–" if s["server_cpu_seconds"] is None else f"{s['server_cpu_seconds'][0]:.2f} s"

    for label, s in summary.items():
        w, c, m, ld = s["seconds"], s["cpu_seconds"], s["peak_rss_mib"], s["load"]
        print(f"| {label} | {w[0]:.2f} s ({w[1]:.2f}–{w[2]:.2f}) | {c[0]:.2f} s | {server(s)} | "
              f"{m[0]:.0f} MiB ({m[1]:.0f}–{m[2]:.0f}) | {ld[0]:.2f} ({ld[1]:.2f}–{ld[2]:.2f}) |")
    for label, rs in [("B", ratios), ("A+count", a_ratios)]:
        if not rs:
            continue
        r = med(rs)
        x, a = summary[label], summary["A"]
        server_ratio = "–" if not (x["server_cpu_seconds"] and a["server_cpu_seconds"]) else \
            f"{x['server_cpu_seconds'][0] / a['server_cpu_seconds'][0]:.3f}"
        print(f"| {label} / A, pair by pair | {r[0]:.3f} ({r[1]:.3f}–{r[2]:.3f}) | "
              f"{x['cpu_seconds'][0] / a['cpu_seconds'][0]:.3f} | {server_ratio} | | |")
    print()
    for label, s in summary.items():
        if "phases" in s:
            print(f"{label}, phases as the connector logs them (median): "
                  + ", ".join(f"{k} {v:.3f} s" for k, v in s["phases"].items()))
    for label, b in info["binaries"].items():
        print(f"{label}: `{b['path']}` ({b['version']})" + (", with psql running the NaN count beside it"
                                                            if label == "A+count" else ""))
    if ratios:
        print(f"\nB / A of the medians: {summary['B']['seconds'][0] / summary['A']['seconds'][0]:.3f}; "
              f"pairs: {', '.join(f'{x:.3f}' for x in ratios)}")
    if count:
        s = count["seconds"]
        print(f"\nThe NaN count alone on the server (psql \\timing, {len(s)} runs): "
              f"{', '.join(f'{x:.2f} s' for x in s)}")
    print(f"\nMachine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, Linux {info['kernel']}; "
          f"PostgreSQL {info['postgresql']} ({', '.join(info['postgresql_settings'])}).")
    if mismatches:
        print("\nCHECKSUM MISMATCH:\n" + "\n".join(mismatches) + f"\nA: {sums['A']}")
    else:
        print(f"Checksums of the files agree ({', '.join(sums['A'])}: {rows:,} rows).")
    print(f"JSON: {out_json.relative_to(ROOT)}", file=sys.stderr)
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
