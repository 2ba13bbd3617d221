"""The chart's ODBC connection string (an `odbc` source): a secret like the database
password, from the chart's Secret or an existing one, mounted as a file and passed as
SOURCE_ODBC_CONNECTION_STRING_FILE to every CronJob and test pod, jobs included; never a
plain value in the ConfigMap or the pod spec. Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64

from test_chart_monitoring import FULLNAME, SECRET_MOUNT, env_of, merge, pod_specs, render, secret_items

PAK = "pak_odbc_0123456789"
CONNECTION = "Driver={PostgreSQL Unicode};Server=db;Database=city;Uid=reader;Pwd={s3cr;t=}}x}"
CONFIG = {"config": {"SOURCE_DATABASE_TYPE": "odbc", "SOURCE_DATABASE_SQL_QUERY": "SELECT 1"}}
STRING_FILE = f"{SECRET_MOUNT}/odbc-connection-string"


def test_no_connection_string_is_mounted_unless_given(chart):
    rendered = render(chart, {"secret": {"create": True, "personalAccessToken": PAK}})
    for pod in pod_specs(rendered).values():
        assert "SOURCE_ODBC_CONNECTION_STRING_FILE" not in env_of(pod)
        assert "odbc-connection-string" not in secret_items(pod)
    assert "odbc-connection-string" not in rendered.of_kind("Secret")[FULLNAME]["data"]


def test_the_chart_made_secret_carries_the_connection_string_as_a_file(chart):
    values = merge(CONFIG, {"secret": {"create": True, "personalAccessToken": PAK, "odbcConnectionString": CONNECTION}})
    rendered = render(chart, values)
    assert rendered.of_kind("ConfigMap")[FULLNAME]["data"]["SOURCE_DATABASE_TYPE"] == "odbc"
    secret = rendered.of_kind("Secret")[FULLNAME]
    assert base64.b64decode(secret["data"]["odbc-connection-string"]).decode() == CONNECTION
    for name, pod in pod_specs(rendered).items():
        assert secret_items(pod)["odbc-connection-string"] == "odbc-connection-string", name
        assert env_of(pod)["SOURCE_ODBC_CONNECTION_STRING_FILE"] == STRING_FILE, name
        assert "SOURCE_ODBC_CONNECTION_STRING" not in env_of(pod)
    assert "s3cr" not in rendered.text
    assert rendered.text.count(base64.b64encode(CONNECTION.encode()).decode()) == 1


def test_an_existing_secret_and_every_job(chart):
    values = merge(CONFIG, {
        "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "",
                           "odbcConnectionStringKey": "odbc"},
        "jobs": [
            {"name": "register", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_register"}},
            {"name": "cases", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 2", "DATASET_ID": "ds_cases"}},
        ],
    })
    pods = pod_specs(render(chart, values))
    assert len(pods) == 4  # a CronJob and a test pod per job
    for name, pod in pods.items():
        assert secret_items(pod) == {"pak": "personal-access-token", "odbc": "odbc-connection-string"}, name
        assert env_of(pod)["SOURCE_ODBC_CONNECTION_STRING_FILE"] == STRING_FILE, name


def test_the_release_secret_reaches_the_jobs(chart):
    values = merge(CONFIG, {
        "secret": {"create": True, "personalAccessToken": PAK, "odbcConnectionString": CONNECTION},
        "jobs": [{"name": "register", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_r"}}],
    })
    for name, pod in pod_specs(render(chart, values)).items():
        assert env_of(pod)["SOURCE_ODBC_CONNECTION_STRING_FILE"] == STRING_FILE, name
