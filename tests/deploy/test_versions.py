"""One version everywhere: the crate version in Cargo.toml is the source.

The chart's appVersion (the image tag it deploys by default), the Dockerfile's VERSION
default (the image's org.opencontainers.image.version label), image tags written in the
documentation and examples, and the Debian package (when Cargo.toml describes one for
cargo-deb) must all carry it; the chart's own version must be SemVer. CONTRIBUTING.md
("Releases") says how a release bumps them together.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "polyteia-db-connector" / "Chart.yaml"

# SemVer 2.0.0, the regular expression recommended at semver.org.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
VERSION_TEXT = r"\d+\.\d+\.\d+[0-9A-Za-z.+~-]*"


def cargo_manifest() -> dict:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())


def crate_version() -> str:
    return cargo_manifest()["package"]["version"]


def chart() -> dict:
    return yaml.safe_load(CHART.read_text())


def test_crate_version_is_semver():
    assert SEMVER.match(crate_version()), crate_version()


def test_chart_app_version_is_the_crate_version():
    app_version = str(chart()["appVersion"])
    assert app_version == crate_version(), (
        f"{CHART.relative_to(ROOT)}: appVersion {app_version!r} differs from the crate version "
        f"{crate_version()!r} in Cargo.toml (bump both in a release)"
    )


def test_chart_version_is_semver():
    version = str(chart()["version"])
    assert SEMVER.match(version), f"{CHART.relative_to(ROOT)}: version {version!r} is not SemVer 2.0"


def test_dockerfile_version_default_is_the_crate_version():
    defaults = re.findall(r"^ARG VERSION=(\S+)\s*$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert defaults == [crate_version()], (
        f"Dockerfile: ARG VERSION default(s) {defaults} differ from the crate version {crate_version()!r}"
    )


def files_that_show_image_tags() -> list[Path]:
    # The changelog names old versions on purpose; benchmark records name the version measured.
    names = ["Dockerfile", "README.md", "README.de.md", "CONTRIBUTING.md"]
    paths = [ROOT / name for name in names if (ROOT / name).is_file()]
    paths += sorted((ROOT / "docs").glob("*.md"))
    paths += sorted((ROOT / "charts").rglob("README.md"))
    paths += sorted(p for p in (ROOT / "examples").iterdir() if p.is_file())
    return paths


def test_documented_image_tags_and_build_arguments_are_the_crate_version():
    pattern = re.compile(rf"polyteia-db-connector:({VERSION_TEXT})|--build-arg VERSION=({VERSION_TEXT})")
    wrong = []
    seen = 0
    for path in files_that_show_image_tags():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in pattern.finditer(line):
                seen += 1
                version = match.group(1) or match.group(2)
                if version != crate_version():
                    wrong.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert seen > 5, "no image tags found: has the documentation moved?"
    assert not wrong, f"image tags other than the crate version {crate_version()}: {wrong}"


def test_example_values_pin_the_crate_version_if_they_pin_a_tag():
    for path in sorted((ROOT / "examples").glob("values-*.yaml")):
        tag = (yaml.safe_load(path.read_text()).get("image") or {}).get("tag")
        if tag is not None:
            assert str(tag) == crate_version(), f"{path.relative_to(ROOT)}: image.tag {tag!r}"


def test_debian_package_takes_the_crate_version():
    """cargo-deb makes the package version from the crate version plus a Debian revision
    ("0.1.0-1"); its metadata has no version key, so a hard-coded version could only come
    from a --deb-version option in a script or a Debian changelog that names another one."""
    deb = cargo_manifest()["package"].get("metadata", {}).get("deb")
    if deb is None:
        return  # no Debian package described yet
    for table in [deb, *deb.get("variants", {}).values()]:
        assert not {"version", "deb-version"} & table.keys(), "[package.metadata.deb] must not set a version"
        revision = str(table.get("revision", "1"))
        # A Debian revision only: no upstream version smuggled in ("0.2.0-1").
        assert re.fullmatch(r"[0-9A-Za-z.+~]*", revision), f"revision {revision!r}"
        assert not re.match(r"\d+\.\d+\.\d+", revision), f"revision {revision!r} looks like a version"
        changelog = table.get("changelog")
        if changelog:
            first = (ROOT / changelog).read_text().splitlines()[0]
            entry = re.match(r"^\S+ \((?:\d+:)?([^)]+?)(?:-[^-)]+)?\)", first)
            assert entry and entry.group(1) == crate_version(), f"{changelog}: {first}"
    overrides = [name for name in repository_files()
                 if name != "tests/deploy/test_versions.py" and "--deb-version" in read_text(ROOT / name)]
    assert not overrides, f"--deb-version overrides the crate version in {overrides}"


def repository_files() -> list[str]:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        return ""


# --- The DuckDB release ------------------------------------------------------------
# The file DUCKDB_VERSION names it once; the scripts read it, and build.rs passes it to
# the crate (the library's version check and the Rust tests). What cannot read it
# (the duckdb crate pin, cargo-deb's asset paths, the Dockerfile's and the documents'
# text) is compared with it here.

VERSION_NUMBER = re.compile(r"\bv?(\d+\.\d+\.\d+)\b")
# A line about DuckDB: its version numbers are DuckDB's (with the exceptions below).
ABOUT_DUCKDB = re.compile(r"duckdb|scanner|extension", re.IGNORECASE)
# Records of the past name the versions they were made with; Cargo.lock is every
# crate's (its duckdb entries are checked on their own).
HISTORY = {"CHANGELOG.md", "bench/README.md", "Cargo.lock", "tests/deploy/test_versions.py"}
HISTORY_DIRS = ("bench/results/",)
# Version numbers on such lines that are not DuckDB's.
NOT_DUCKDB = {
    "v1.4.3": "a library of another release, which the version check's unit test refuses",
}
# "name==X.Y.Z" of another Python package (bench/compare's peers), and the duckdb
# crate's own numbering (checked by test_duckdb_crate_is_the_pinned_release).
OTHER_PIN = re.compile(r"(?<![\w-])(?!duckdb)[A-Za-z][\w.-]*==v?\d+\.\d+\.\d+|\b\d+\.\d{5}\.\d+\b", re.IGNORECASE)


def duckdb_version() -> str:
    text = (ROOT / "DUCKDB_VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", text), f"DUCKDB_VERSION: {text!r} is not MAJOR.MINOR.PATCH"
    return text


def text_files_that_are_not_history() -> list[tuple[str, list[str]]]:
    files = []
    for name in repository_files():
        if name in HISTORY or name.startswith(HISTORY_DIRS) or name == "DUCKDB_VERSION":
            continue
        text = read_text(ROOT / name)
        if text and "\0" not in text:
            files.append((name, text.splitlines()))
    return files


def test_every_duckdb_version_written_down_is_the_one_in_duckdb_version():
    wanted = duckdb_version()
    wrong = []
    seen = 0
    for name, lines in text_files_that_are_not_history():
        for number, line in enumerate(lines, start=1):
            if not ABOUT_DUCKDB.search(line):
                continue
            others = [m.span() for m in OTHER_PIN.finditer(line)]
            for match in VERSION_NUMBER.finditer(line):
                if match.group(0) in NOT_DUCKDB or any(a <= match.start() < b for a, b in others):
                    continue
                seen += 1
                if match.group(1) != wanted:
                    wrong.append(f"{name}:{number}: {match.group(0)}: {line.strip()}")
    assert seen > 20, "hardly any DuckDB version found: has the documentation moved?"
    assert not wrong, f"DuckDB versions other than {wanted} (the file DUCKDB_VERSION):\n" + "\n".join(wrong)


def test_the_duckdb_version_is_only_written_on_lines_the_check_above_reads():
    """So that a new sentence naming the release without saying "DuckDB" (or "extension")
    cannot keep an old version after a bump: it fails here first."""
    wanted = re.compile(rf"\b{re.escape(duckdb_version())}\b")
    unread = [f"{name}:{number}: {line.strip()}"
              for name, lines in text_files_that_are_not_history()
              for number, line in enumerate(lines, start=1)
              if wanted.search(line) and not ABOUT_DUCKDB.search(line)]
    assert not unread, "the DuckDB version on a line that does not say DuckDB (say it there):\n" + "\n".join(unread)


def test_duckdb_crate_is_the_pinned_release():
    """The duckdb crate numbers DuckDB MAJOR.MINOR.PATCH as 1.(MAJOR*10000 + MINOR*100 + PATCH).x."""
    major, minor, patch = (int(n) for n in duckdb_version().split("."))
    crate = f"1.{major * 10000 + minor * 100 + patch}"
    pin = cargo_manifest()["dependencies"]["duckdb"]["version"]
    assert re.fullmatch(rf"={re.escape(crate)}\.\d+", pin), (
        f"Cargo.toml: duckdb = {pin!r} is not DuckDB {duckdb_version()} (the file DUCKDB_VERSION): want ={crate}.N"
    )
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    for package in lock["package"]:
        if package["name"] in ("duckdb", "libduckdb-sys"):
            assert package["version"].startswith(crate + "."), f"Cargo.lock: {package['name']} {package['version']}"


def test_debian_package_ships_the_extensions_of_the_pinned_release():
    deb = cargo_manifest()["package"]["metadata"]["deb"]
    extension_assets = [asset for asset in deb["assets"] if "duckdb_extension" in asset[0]]
    assert extension_assets, "[package.metadata.deb] assets: no extension files"
    for source, target, _mode in extension_assets:
        for path in (source, target):
            assert f"/v{duckdb_version()}/" in path, f"Cargo.toml deb asset {path!r}: not v{duckdb_version()}"


def test_the_prebuilt_library_is_a_build_of_the_pinned_release():
    script = (ROOT / "scripts" / "fetch-duckdb").read_text()
    pinned = re.findall(r"^NPM_PACKAGE_VERSION=(\S+)", script, flags=re.M)
    assert len(pinned) == 1 and pinned[0].startswith(duckdb_version() + "-"), (
        f"scripts/fetch-duckdb: NPM_PACKAGE_VERSION {pinned} is not a build of DuckDB {duckdb_version()}"
    )


def fetch_extensions_tables() -> tuple[list[str], dict[str, str]]:
    script = (ROOT / "scripts" / "fetch-extensions").read_text()
    names = re.search(r"^EXTENSIONS=\(([^)]*)\)", script, flags=re.M)
    assert names, "scripts/fetch-extensions: no EXTENSIONS=(...) line"
    pins = dict(re.findall(r"^\s*\[(\w+/\w+)\]=(\S+)$", script, flags=re.M))
    return names.group(1).split(), pins


def test_every_extension_wheel_is_pinned_for_every_platform():
    """A wheel without a pin would make fetch-extensions fail only on the platform
    that lacks it (the Windows zip, an arm64 image): caught here instead."""
    script = (ROOT / "scripts" / "fetch-extensions").read_text()
    assert f"PINNED_DUCKDB_VERSION={duckdb_version()}\n" in script, "scripts/fetch-extensions: pins not for DUCKDB_VERSION"
    names, pins = fetch_extensions_tables()
    assert "spatial" in names, names
    wanted = {f"{name}/{platform}" for name in names for platform in ("linux_amd64", "linux_arm64", "windows_amd64")}
    assert set(pins) == wanted, f"WHEEL_SHA256 keys: missing {wanted - set(pins)}, extra {set(pins) - wanted}"
    bad = {key: value for key, value in pins.items() if not re.fullmatch(r"[0-9a-f]{64}", value)}
    assert not bad, f"not a SHA-256: {bad}"
    assert len(set(pins.values())) == len(pins), "two wheels with the same hash: a copy-paste slip"


def test_the_debian_check_compares_every_fetched_extension():
    names, _ = fetch_extensions_tables()
    # The file DuckDB looks for: as fetch-extensions names it (spatial and odbc_scanner as
    # they are, the other scanners with _scanner appended).
    files = {name if name == "spatial" or name.endswith("_scanner") else f"{name}_scanner" for name in names}
    check = (ROOT / "scripts" / "check-deb").read_text()
    compared = re.search(r"^for ext in ([\w ]+); do", check, flags=re.M)
    assert compared and set(compared.group(1).split()) == files, f"scripts/check-deb compares {compared}, want {files}"
    for name in files:
        assert f'".$EXT_DIR/{name}.duckdb_extension"' in check, f"scripts/check-deb does not list {name}"
