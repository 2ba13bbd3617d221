"""The chart's optional secrets beside the PAK and the database password: the
pseudonymisation key (PSEUDONYMIZE_COLUMNS in config) and an `odbc` source's connection
string. Each comes from the chart's Secret or an existing one, is mounted as a file and
passed as its *_FILE variable to every CronJob and test pod, jobs included; never a plain
value in the ConfigMap or the pod spec. Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import helm_python as helm
import pytest

from test_chart_monitoring import FULLNAME, RELEASE, SECRET_MOUNT, env_of, merge, pod_specs, render, secret_items

PAK = "pak_secret_files_0123456789"


@dataclass(frozen=True)
class SecretFile:
    variable: str  # the setting; its *_FILE twin is what the pods get
    value_name: str  # under secret:
    key_name: str  # under existingSecret:
    item: str  # the chart Secret's key and the mounted file's name
    value: str
    config: dict

    @property
    def file(self) -> str:
        return f"{SECRET_MOUNT}/{self.item}"


SECRETS = [
    SecretFile("PSEUDONYMIZATION_KEY", "pseudonymizationKey", "pseudonymizationKeyKey", "pseudonymization-key",
               "4f0c1e9a7b3d5c2e8a6f1b0d9c7e3a5b2f8d6c4a1e0b9d7f3c5a2e8b6d4f1c0a",
               {"config": {"PSEUDONYMIZE_COLUMNS": "person_id,geburtsdatum"}}),
    SecretFile("SOURCE_ODBC_CONNECTION_STRING", "odbcConnectionString", "odbcConnectionStringKey",
               "odbc-connection-string",
               "Driver={PostgreSQL Unicode};Server=db;Database=city;Uid=reader;Pwd={s3cr;t=}}x}",
               {"config": {"SOURCE_DATABASE_TYPE": "odbc", "SOURCE_DATABASE_SQL_QUERY": "SELECT 1"}}),
]
ids = [s.variable for s in SECRETS]
JOBS = [
    {"name": "register", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_register"}},
    {"name": "cases", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 2", "DATASET_ID": "ds_cases"}},
]


@pytest.mark.parametrize("s", SECRETS, ids=ids)
def test_nothing_is_mounted_unless_given(chart, s):
    rendered = render(chart, {"secret": {"create": True, "personalAccessToken": PAK}})
    for pod in pod_specs(rendered).values():
        assert f"{s.variable}_FILE" not in env_of(pod)
        assert s.item not in secret_items(pod)
    assert s.item not in rendered.of_kind("Secret")[FULLNAME]["data"]


@pytest.mark.parametrize("s", SECRETS, ids=ids)
def test_the_chart_made_secret_carries_it_as_a_file(chart, s):
    rendered = render(chart, merge(s.config, {"secret": {"create": True, "personalAccessToken": PAK,
                                                         s.value_name: s.value}}))
    config_map = rendered.of_kind("ConfigMap")[FULLNAME]["data"]
    assert all(config_map[k] == v for k, v in s.config["config"].items())
    secret = rendered.of_kind("Secret")[FULLNAME]
    assert base64.b64decode(secret["data"][s.item]).decode() == s.value
    for name, pod in pod_specs(rendered).items():
        assert secret_items(pod)[s.item] == s.item, name
        assert env_of(pod)[f"{s.variable}_FILE"] == s.file, name
        assert s.variable not in env_of(pod)
    assert s.value not in rendered.text
    assert rendered.text.count(base64.b64encode(s.value.encode()).decode()) == 1


@pytest.mark.parametrize("s", SECRETS, ids=ids)
def test_an_existing_secret_and_every_job(chart, s):
    values = merge(s.config, {
        "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "",
                           s.key_name: "their-key"},
        "jobs": JOBS,
    })
    pods = pod_specs(render(chart, values))
    assert len(pods) == 4  # a CronJob and a test pod per job
    for name, pod in pods.items():
        assert secret_items(pod) == {"pak": "personal-access-token", "their-key": s.item}, name
        assert env_of(pod)[f"{s.variable}_FILE"] == s.file, name


@pytest.mark.parametrize("s", SECRETS, ids=ids)
def test_the_release_secret_reaches_the_jobs(chart, s):
    values = merge(s.config, {
        "secret": {"create": True, "personalAccessToken": PAK, s.value_name: s.value},
        "jobs": JOBS[:1],
    })
    for name, pod in pod_specs(render(chart, values)).items():
        assert env_of(pod)[f"{s.variable}_FILE"] == s.file, name


@pytest.mark.parametrize("s", SECRETS, ids=ids)
@pytest.mark.parametrize("suffix", ["", "_FILE"])
def test_it_inside_config_is_refused(chart, chart_without_schema, s, suffix):
    values = {"config": {s.variable + suffix: s.value}}
    with pytest.raises(helm.HelmValuesError, match=s.variable + suffix):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmRenderError, match="secrets must not go into the ConfigMap"):
        chart_without_schema.render(values, name=RELEASE)
