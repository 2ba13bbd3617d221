# shellcheck shell=bash
# Sourced by the scripts in scripts/ (never run on its own), so that what they all need
# is written once:
#
#   log MESSAGE...    "<script>: MESSAGE" on stdout (on stderr after log_on_stderr)
#   die MESSAGE...    "<script>: error: MESSAGE" on stderr, then exit 1
#   log_on_stderr     for a script whose stdout is its result (a path, a report)
#   error_label WORD  die writes "<script>: WORD: MESSAGE" instead ("FAILED" for a check)
#   use_cargo         puts rustup's cargo on PATH when it is not there yet; dies without it
#   duckdb_version    prints the DuckDB release the connector is built for (MAJOR.MINOR.PATCH), from
#                     the file DUCKDB_VERSION at the repository root, the one place it is written
#
# <script> is the file name of the script that sourced this file, so a line in a long
# CI log says which script wrote it. Usage, after `ROOT=` in the script:
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$ROOT/scripts/lib.sh"

LIB_SCRIPT_NAME="$(basename "${BASH_SOURCE[1]:-$0}")"
LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
lib_log_fd=1
lib_error_label=error

log() { printf '%s: %s\n' "$LIB_SCRIPT_NAME" "$*" >&"$lib_log_fd"; }
die() { printf '%s: %s: %s\n' "$LIB_SCRIPT_NAME" "$lib_error_label" "$*" >&2; exit 1; }
log_on_stderr() { lib_log_fd=2; }
error_label() { lib_error_label="$1"; }

use_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -f "${CARGO_HOME:-$HOME/.cargo}/env" ]]; then
        # shellcheck disable=SC1091
        . "${CARGO_HOME:-$HOME/.cargo}/env"
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (rustup) first"
}

duckdb_version() {
    local file="$LIB_ROOT/DUCKDB_VERSION" version
    [[ -s "$file" ]] || die "$file is missing (it names the DuckDB release the connector is built for)"
    version="$(tr -d '[:space:]' <"$file")"
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$file: '$version' is not a DuckDB release number (MAJOR.MINOR.PATCH)"
    printf '%s\n' "$version"
}
