"""What the benchmark drivers (bench/compare.py, bench/lineitem.py) share: the local
PostgreSQL through psql, GNU time's report, and the description of the machine."""

import os
import platform
import subprocess
import sys
from pathlib import Path

PG = dict(host="127.0.0.1", port=5432, user="postgres")


def psql(sql, db, who, capture=True):
    """Runs `sql` in database `db` of the local PostgreSQL; a failure ends the driver
    (`who` names it in the message)."""
    cmd = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p", str(PG["port"]),
           "-U", PG["user"], "-d", db, "-c", "SET client_min_messages = warning", "-c", sql]
    proc = subprocess.run(cmd, capture_output=capture, text=True)
    if proc.returncode != 0:
        sys.exit(f"{who}: psql failed: {proc.stderr}")
    return proc.stdout


def parse_time_v(path):
    """Wall time, peak RSS and CPU of one process from GNU time's `-v` report (the keys
    that were found)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key.startswith("Elapsed (wall clock) time"):
            parts = [float(p) for p in value.split(":")]
            out["time_v_seconds"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        elif key == "Maximum resident set size (kbytes)":
            out["peak_rss_bytes"] = int(value) * 1024
        elif key == "User time (seconds)":
            out["user_seconds"] = float(value)
        elif key == "System time (seconds)":
            out["system_seconds"] = float(value)
    return out


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - a description is best effort
        return ""


def host():
    """The machine a series ran on: CPU model, cores, memory, kernel."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "")
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release()}
