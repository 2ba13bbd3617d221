"""The chart's pseudonymisation key (PSEUDONYMIZE_COLUMNS in config): a secret like the
PAK, from the chart's Secret or an existing one, mounted as a file and passed as
PSEUDONYMIZATION_KEY_FILE to every CronJob and test pod, jobs included; never a plain
value in the ConfigMap or the pod spec. Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64

import helm_python as helm
import pytest

from test_chart_monitoring import FULLNAME, RELEASE, SECRET_MOUNT, env_of, merge, pod_specs, render, secret_items

PAK = "pak_pseudonym_0123456789"
KEY = "4f0c1e9a7b3d5c2e8a6f1b0d9c7e3a5b2f8d6c4a1e0b9d7f3c5a2e8b6d4f1c0a"
CONFIG = {"config": {"PSEUDONYMIZE_COLUMNS": "person_id,geburtsdatum"}}
KEY_FILE = f"{SECRET_MOUNT}/pseudonymization-key"


def test_no_key_is_mounted_unless_given(chart):
    rendered = render(chart, {"secret": {"create": True, "personalAccessToken": PAK}})
    for pod in pod_specs(rendered).values():
        assert "PSEUDONYMIZATION_KEY_FILE" not in env_of(pod)
        assert "pseudonymization-key" not in secret_items(pod)
    assert "pseudonymization-key" not in rendered.of_kind("Secret")[FULLNAME]["data"]


def test_the_chart_made_secret_carries_the_key_as_a_file(chart):
    values = merge(CONFIG, {"secret": {"create": True, "personalAccessToken": PAK, "pseudonymizationKey": KEY}})
    rendered = render(chart, values)
    assert rendered.of_kind("ConfigMap")[FULLNAME]["data"]["PSEUDONYMIZE_COLUMNS"] == "person_id,geburtsdatum"
    secret = rendered.of_kind("Secret")[FULLNAME]
    assert base64.b64decode(secret["data"]["pseudonymization-key"]).decode() == KEY
    for name, pod in pod_specs(rendered).items():
        assert secret_items(pod)["pseudonymization-key"] == "pseudonymization-key", name
        assert env_of(pod)["PSEUDONYMIZATION_KEY_FILE"] == KEY_FILE, name
        assert "PSEUDONYMIZATION_KEY" not in env_of(pod)
    assert KEY not in rendered.text
    assert rendered.text.count(base64.b64encode(KEY.encode()).decode()) == 1


def test_an_existing_secret_and_every_job(chart):
    values = merge(CONFIG, {
        "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "",
                           "pseudonymizationKeyKey": "hmac-key"},
        "jobs": [
            {"name": "register", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_register"}},
            {"name": "cases", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 2", "DATASET_ID": "ds_cases"}},
        ],
    })
    pods = pod_specs(render(chart, values))
    assert len(pods) == 4  # a CronJob and a test pod per job
    for name, pod in pods.items():
        assert secret_items(pod) == {"pak": "personal-access-token", "hmac-key": "pseudonymization-key"}, name
        assert env_of(pod)["PSEUDONYMIZATION_KEY_FILE"] == KEY_FILE, name


def test_the_release_secret_reaches_the_jobs(chart):
    values = merge(CONFIG, {
        "secret": {"create": True, "personalAccessToken": PAK, "pseudonymizationKey": KEY},
        "jobs": [{"name": "register", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_r"}}],
    })
    for name, pod in pod_specs(render(chart, values)).items():
        assert env_of(pod)["PSEUDONYMIZATION_KEY_FILE"] == KEY_FILE, name


@pytest.mark.parametrize("key", ["PSEUDONYMIZATION_KEY", "PSEUDONYMIZATION_KEY_FILE"])
def test_the_key_inside_config_is_refused(chart, chart_without_schema, key):
    values = {"config": {key: KEY}}
    with pytest.raises(helm.HelmValuesError, match=key):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmRenderError, match="secrets must not go into the ConfigMap"):
        chart_without_schema.render(values, name=RELEASE)
