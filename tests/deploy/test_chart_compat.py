"""Backward compatibility of the Helm chart: without `jobs`, the chart renders exactly
what it rendered before `jobs` existed, manifest for manifest, byte for byte.

tests/deploy/fixtures/chart-before-jobs/ holds that output (NOTES.txt included), made
with the chart as it was before the `jobs` value. Every example values file that existed
then, the defaults and two combinations of the other settings are compared. Should a
later change alter this output on purpose, regenerate the fixtures with
    python tests/deploy/test_chart_compat.py
(in the virtualenv of scripts/check-deploy) and review the diff like code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "polyteia-db-connector"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chart-before-jobs"
RELEASE = "city"
NAMESPACE = "polyteia"
PAK = "pak_test_0123456789abcdef"


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text())


# The value sets, by fixture name. The example list is fixed on purpose: examples added
# later (values-many-jobs.yaml) did not exist before.
VALUE_SETS: dict[str, Any] = {
    "defaults": lambda: {},
    "values-cronjob": lambda: example("values-cronjob.yaml"),
    "values-existing-secret": lambda: example("values-existing-secret.yaml"),
    "values-schedule": lambda: example("values-schedule.yaml"),
    "schedule-secret-networkpolicy": lambda: {
        "mode": "schedule", "networkPolicy": {"enabled": True},
        "secret": {"create": True, "personalAccessToken": PAK, "databasePassword": "d'b \\pw=@\";ü"},
    },
    "cronjob-existing-networkpolicy-extras": lambda: {
        "networkPolicy": {"enabled": True},
        "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "dbpw"},
        "cronSchedule": "15 4 * * 1-5", "timeZone": "Europe/Berlin",
        "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "config": {"SOURCE_DATABASE_TYPE": "postgres", "PARQUET_ROW_GROUP_SIZE": 1000000, "DATASET_ID": "ds_1"},
        "cronjob": {"suspend": True, "ttlSecondsAfterFinished": 600},
    },
}


def rendered_text(chart, values: dict[str, Any]) -> str:
    """Every non-empty rendered file, sorted by template path, as one text."""
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    parts = [f"# Source: {path}\n{text}\n" for path, text in sorted(manifests.items()) if text.strip()]
    return "".join(parts)




@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_without_jobs_the_chart_renders_what_it_rendered_before(chart, name):
    expected = (FIXTURES / f"{name}.txt").read_text()
    values = VALUE_SETS[name]()
    assert rendered_text(chart, values) == expected
    # An empty jobs list is the same as none.
    assert rendered_text(chart, {**values, "jobs": []}) == expected


def test_every_old_example_has_a_fixture():
    for name in ("values-cronjob", "values-existing-secret", "values-schedule"):
        assert (FIXTURES / f"{name}.txt").is_file(), name


if __name__ == "__main__":
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with helm.Chart.load(CHART) as loaded:
        for fixture, make in VALUE_SETS.items():
            (FIXTURES / f"{fixture}.txt").write_text(rendered_text(loaded, make()))
            print(f"wrote {FIXTURES / fixture}.txt", file=sys.stderr)
