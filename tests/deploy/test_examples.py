"""The Dockerfile and the deployment examples, checked without Docker.

hadolint lints the Dockerfile (scripts/check-deploy); these tests check what the
deployment relies on: the image's user, entry point, environment and labels, that
examples/.env.example documents every variable the connector reads, and that the
crontab and docker-compose examples keep their promises (no overlapping runs,
secrets as files, the hardened container settings).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_dockerfile_stages_and_base_images():
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for w, a in instructions if w == "ARG" and "=" in a)
    assert args["RUST_IMAGE"] == "rust:1.95-bookworm"
    assert args["RUNTIME_IMAGE"] == "gcr.io/distroless/cc-debian12:nonroot"
    stages = [a for w, a in instructions if w == "FROM"]
    assert [s.split()[-1] for s in stages] == ["build", "extensions", "runtime"]
    runs = " ".join(a for w, a in instructions if w == "RUN")
    assert "cargo build --release --locked" in runs
    assert "scripts/fetch-duckdb" in runs
    assert "/out/usr/local/lib/polyteia-db-connector/libduckdb.so" in runs
    assert "ln -s usr/local/bin/connector /out/connector" in runs
    assert "fetch-extensions /opt/connector/extensions" in runs


def test_runtime_stage_contract():
    stage = final_stage()
    words = [w for w, _ in stage]
    assert ("USER", "65532:65532") in stage
    assert ("ENTRYPOINT", '["/connector"]') in stage
    assert ("CMD", '["run"]') in stage
    env = " ".join(a for w, a in stage if w == "ENV")
    assert "DUCKDB_EXTENSION_DIRECTORY=/opt/connector/extensions" in env
    assert "TEMP_DIR=/tmp" in env
    copies = [a for w, a in stage if w == "COPY"]
    # The binary, libduckdb.so beside it in ../lib/polyteia-db-connector and the /connector link.
    assert any(c.endswith("/out/ /") for c in copies)
    assert any(c.endswith("/opt/connector/extensions /opt/connector/extensions") for c in copies)
    labels = " ".join(a for w, a in stage if w == "LABEL")
    for key in ("title", "description", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="MIT"' in labels
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert "RUN" not in words  # distroless: no shell in the runtime stage


def test_dockerignore_keeps_secrets_and_build_output_out():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for pattern in ("target", ".git", ".extensions", ".duckdb", "*.parquet", ".env", "bench/.venv"):
        assert pattern in patterns, pattern
    for needed in ("src", "scripts", "Cargo.toml", "Cargo.lock", "build.rs", ".cargo"):
        assert needed not in patterns


def settings_definitions() -> str:
    """The text of every area's settings file, as src/settings.rs lists them in AREAS."""
    catalog = (ROOT / "src" / "settings.rs").read_text()
    files = re.findall(r'\("(src/[a-z_/]+\.rs)", crate::', catalog)
    assert len(files) > 5, files
    return "\n".join((ROOT / file).read_text() for file in files)


def variables_the_connector_reads() -> set[str]:
    """The settings of the define_settings! blocks (secrets also as NAME_FILE)."""
    names = set()
    for block in re.findall(r"define_settings! \{(.*?)\n\}", settings_definitions(), flags=re.S):
        for name, rest in re.findall(r"^\s+([A-Z][A-Z0-9_]+):(.*?);\s*$", block, flags=re.S | re.M):
            names.add(name)
            if re.search(r",\s*secret\b", rest):
                names.add(name + "_FILE")
    return names


def variables_in_readme() -> set[str]:
    names = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def test_env_example_lists_every_variable():
    text = (EXAMPLES / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    wanted = variables_the_connector_reads() | variables_in_readme()
    assert len(wanted) > 30, wanted
    missing = wanted - documented
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_defaults_match_the_code():
    text = (EXAMPLES / ".env.example").read_text()
    table = settings_definitions()  # the settings' definitions
    shown = dict(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.M))
    for name in ("CRON_SCHEDULE", "HEALTH_CHECK_PORT", "UPLOAD_MAX_ATTEMPTS", "SOURCE_CONNECT_MAX_ATTEMPTS"):
        assert f'{name}: Value("{shown[name]}")' in table, name
    assert f'"{shown["POLYTEIA_BASE_URL"]}"' in table


def test_crontab_never_overlaps_and_logs():
    lines = [line for line in (EXAMPLES / "crontab").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#") and "=" not in line.split()[0]]
    assert lines, "no active crontab line"
    for line in lines:
        fields = line.split(None, 6)
        command = fields[6]
        assert command.startswith("flock -n "), command
        assert " connector run " in command
        assert ">>/var/log/" in command and "2>&1" in command
    commented = (EXAMPLES / "crontab").read_text()
    assert "logger -t polyteia-db-connector" in commented  # the syslog variant


def test_docker_compose_example():
    compose = yaml.safe_load((EXAMPLES / "docker-compose.yml").read_text())
    services = compose["services"]
    connector, postgres = services["connector"], services["postgres"]
    assert connector["command"] == ["schedule"]
    assert connector["build"]["context"] == ".."
    assert (EXAMPLES / connector["build"]["context"] / connector["build"]["dockerfile"]).is_file()
    assert connector["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert connector["user"] == "65532:65532"
    assert connector["read_only"] is True
    assert connector["cap_drop"] == ["ALL"]
    assert any(t.startswith("/tmp") for t in connector["tmpfs"])
    env = connector["environment"]
    assert env["SOURCE_DATABASE_HOST"] == "postgres"
    assert not {"PERSONAL_ACCESS_TOKEN", "SOURCE_DATABASE_PASSWORD"} & env.keys()
    for name in connector["secrets"]:
        assert name in compose["secrets"]
    assert env["SOURCE_DATABASE_PASSWORD_FILE"] == "/run/secrets/database-password"
    assert env["PERSONAL_ACCESS_TOKEN_FILE"] == "/run/secrets/personal-access-token"
    assert any(p.endswith(":" + env["HEALTH_CHECK_PORT"]) for p in connector["ports"])
    init = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init and (EXAMPLES / init[0].split(":")[0]).is_file()
    # The demo password is the same in the secret file and the init script.
    password = (EXAMPLES / compose["secrets"]["database-password"]["file"]).read_text().strip()
    sql = (EXAMPLES / "compose-init.sql").read_text()
    assert f"CREATE ROLE {env['SOURCE_DATABASE_USER']} LOGIN PASSWORD '{password}'" in sql
    assert "service_requests" in env["SOURCE_DATABASE_SQL_QUERY"] and "service_requests" in sql


WAYS_OF_RUNNING = ("Binary + crontab", "Docker, one-shot", "Docker, long-lived", "Helm, CronJob",
                   "Helm, long-lived")


def test_docs_cover_every_way_of_running():
    doc = (ROOT / "docs" / "deployment.md").read_text()
    for heading in WAYS_OF_RUNNING:
        assert re.search(rf"^##+ .*{re.escape(heading)}", doc, flags=re.M), heading
    for command in ("flock -n", "docker run", "helm upgrade --install", "helm test", "mode=schedule"):
        assert command in doc, command


def test_readme_shows_every_way_of_running_and_links_to_it():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deployment"):]
    for heading in WAYS_OF_RUNNING:
        assert f"[{heading}](docs/deployment.md#" in section, heading
    for command in ("flock -n", "docker run", "helm upgrade --install"):
        assert command in section, command


def test_scripts_are_bash():
    for name in ("check-deploy", "check-runtime-conditions", "check-monitoring"):
        script = ROOT / "scripts" / name
        assert script.read_text().startswith("#!/usr/bin/env bash\n"), name
        assert script.stat().st_mode & 0o111, f"{name} is not executable"


def test_crontab_many_tables_block():
    """The commented block for many tables: shared file first, then the table's own, one
    lock and one log per table, each on its own minute."""
    text = (EXAMPLES / "crontab").read_text()
    block = text[text.index("# Many tables"):]
    assert "Staggering" in block
    lines = [line.lstrip("# ").strip() for line in block.splitlines()
             if re.match(r"^#\s*[0-9*]", line) and " connector run " in line]
    assert len(lines) == 3, lines
    locks, minutes, tables = set(), set(), set()
    for line in lines:
        fields = line.split(None, 6)
        minutes.add((fields[0], fields[1]))
        command = fields[6]
        assert command.startswith("flock -n "), command
        locks.add(command.split()[4])
        env_files = re.findall(r"--env-file (\S+)", command)
        assert env_files[0] == "/etc/polyteia-db-connector/common.env", env_files
        table = Path(env_files[1]).stem
        assert env_files[1] == f"/etc/polyteia-db-connector/jobs/{table}.env"
        assert f">>/var/log/polyteia-db-connector/{table}.log 2>&1" in command
        assert table in command.split()[4]
        tables.add(table)
    assert len(locks) == len(minutes) == len(tables) == 3
