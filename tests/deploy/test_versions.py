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
