"""The chart's metrics.pushgateway: every run of a CronJob pushes its metrics.

Rendered with Helm's own engine and validated against the Kubernetes API schemas, like
test_chart.py: the Pushgateway settings in each ConfigMap (one instance label per job
with `jobs`), its password from the chart's Secret or an existing one mounted as a
file, the NetworkPolicy rule, and the refusals. Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]
RELEASE = "city"
FULLNAME = "city-polyteia-db-connector"
SECRET_MOUNT = "/var/run/secrets/polyteia-db-connector"
PAK = "pak_monitoring_0123456789"
PUSH_PASSWORD = "push p\"w\\:ü$x"
URL = "http://prometheus-pushgateway.monitoring:9091"

PUSH = {"metrics": {"pushgateway": {"url": URL, "job": "city_exports", "username": "pusher"}}}
WITH_SECRET = {"secret": {"create": True, "personalAccessToken": PAK, "pushgatewayPassword": PUSH_PASSWORD}}
WITH_EXISTING = {"existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "",
                                    "pushgatewayPasswordKey": "pushgw"}}


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out




class Rendered:
    def __init__(self, manifests: dict[str, str]):
        self.text = "".join(t for p, t in manifests.items() if not p.endswith("NOTES.txt"))
        self.objects = [doc for p, t in manifests.items() if not p.endswith("NOTES.txt")
                        for doc in yaml.safe_load_all(t) if doc]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        return {o["metadata"]["name"]: o for o in self.objects if o["kind"] == kind}


def render(chart, values: dict[str, Any]) -> Rendered:
    chart.validate_schema(values)
    rendered = Rendered(chart.render(values, name=RELEASE, namespace="polyteia", is_install=True))
    for obj in rendered.objects:
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {e.message}")
    return rendered


def pod_specs(rendered: Rendered) -> dict[str, dict[str, Any]]:
    """The pod spec of every CronJob and `helm test` pod, by object name."""
    pods = {name: c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for name, c in rendered.of_kind("CronJob").items()}
    pods.update({name: p["spec"] for name, p in rendered.of_kind("Pod").items()})
    return pods


def env_of(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod["containers"][0].get("env", [])}


def secret_items(pod: dict[str, Any]) -> dict[str, str]:
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {i["key"]: i["path"] for i in volumes["secrets"]["secret"]["items"]} if "secrets" in volumes else {}


def test_no_pushgateway_by_default(chart):
    rendered = render(chart, merge(WITH_SECRET, {"networkPolicy": {"enabled": True}}))
    assert not any(k.startswith("PUSHGATEWAY_") for k in rendered.of_kind("ConfigMap")[FULLNAME]["data"])
    for pod in pod_specs(rendered).values():
        assert "PUSHGATEWAY_PASSWORD_FILE" not in env_of(pod)
        assert "pushgateway-password" not in secret_items(pod)
    egress = rendered.of_kind("NetworkPolicy")[FULLNAME]["spec"]["egress"]
    assert all(p["port"] != 9091 for rule in egress for p in rule["ports"])


def test_the_chart_made_secret_carries_the_password_as_a_file(chart):
    rendered = render(chart, merge(PUSH, WITH_SECRET))
    data = rendered.of_kind("ConfigMap")[FULLNAME]["data"]
    assert {k: v for k, v in data.items() if k.startswith("PUSHGATEWAY_")} == {
        "PUSHGATEWAY_URL": URL, "PUSHGATEWAY_JOB": "city_exports", "PUSHGATEWAY_USERNAME": "pusher",
        "PUSHGATEWAY_INSTANCE": FULLNAME,
    }
    secret = rendered.of_kind("Secret")[FULLNAME]
    assert base64.b64decode(secret["data"]["pushgateway-password"]).decode() == PUSH_PASSWORD
    for name, pod in pod_specs(rendered).items():
        assert secret_items(pod)["pushgateway-password"] == "pushgateway-password", name
        assert env_of(pod)["PUSHGATEWAY_PASSWORD_FILE"] == f"{SECRET_MOUNT}/pushgateway-password", name
        assert "PUSHGATEWAY_PASSWORD" not in env_of(pod)
    # The password is in the Secret (base64) only.
    assert PUSH_PASSWORD not in rendered.text
    assert rendered.text.count(base64.b64encode(PUSH_PASSWORD.encode()).decode()) == 1


def test_an_existing_secret_and_the_default_job_label(chart):
    values = merge({"metrics": {"pushgateway": {"url": URL, "username": "pusher"}}}, WITH_EXISTING)
    rendered = render(chart, values)
    data = rendered.of_kind("ConfigMap")[FULLNAME]["data"]
    assert "PUSHGATEWAY_JOB" not in data  # the connector's default, polyteia_db_connector
    assert data["PUSHGATEWAY_INSTANCE"] == FULLNAME
    pod = pod_specs(rendered)[FULLNAME]
    assert secret_items(pod) == {"pak": "personal-access-token", "pushgw": "pushgateway-password"}
    assert env_of(pod)["PUSHGATEWAY_PASSWORD_FILE"] == f"{SECRET_MOUNT}/pushgateway-password"


def test_without_auth_no_password_is_mounted_and_config_may_name_the_instance(chart):
    values = merge({"metrics": {"pushgateway": {"url": URL}}}, {"secret": {"create": True, "personalAccessToken": PAK}},
                   {"config": {"PUSHGATEWAY_INSTANCE": "permits"}})
    rendered = render(chart, values)
    data = rendered.of_kind("ConfigMap")[FULLNAME]["data"]
    assert data["PUSHGATEWAY_INSTANCE"] == "permits" and "PUSHGATEWAY_USERNAME" not in data
    assert "PUSHGATEWAY_PASSWORD_FILE" not in env_of(pod_specs(rendered)[FULLNAME])


def test_one_instance_label_per_job(chart):
    values = merge(PUSH, WITH_SECRET, {
        "config": {"SOURCE_DATABASE_TYPE": "postgres"},
        "jobs": [
            {"name": "permits", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "ds_permits"}},
            {"name": "budget", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 2", "DATASET_ID": "ds_budget"}},
            {"name": "trees", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 3", "DATASET_ID": "ds_trees",
                                         "PUSHGATEWAY_INSTANCE": "street-trees"}},
        ],
    })
    rendered = render(chart, values)
    configmaps = rendered.of_kind("ConfigMap")
    instances = {name: cm["data"]["PUSHGATEWAY_INSTANCE"] for name, cm in configmaps.items()}
    assert instances == {f"{FULLNAME}-permits": f"{FULLNAME}-permits", f"{FULLNAME}-budget": f"{FULLNAME}-budget",
                         f"{FULLNAME}-trees": "street-trees"}
    assert {cm["data"]["PUSHGATEWAY_URL"] for cm in configmaps.values()} == {URL}
    pods = pod_specs(rendered)
    assert len(pods) == 6  # a CronJob and a test pod per job
    for name, pod in pods.items():
        assert secret_items(pod)["pushgateway-password"] == "pushgateway-password", name
        assert env_of(pod)["PUSHGATEWAY_PASSWORD_FILE"] == f"{SECRET_MOUNT}/pushgateway-password", name


def test_the_network_policy_lets_the_push_out(chart):
    values = merge(PUSH, WITH_SECRET, {"networkPolicy": {"enabled": True, "pushgateway": {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}}})
    egress = render(chart, values).of_kind("NetworkPolicy")[FULLNAME]["spec"]["egress"]
    rules = [r for r in egress if {"protocol": "TCP", "port": 9091} in r["ports"]]
    assert len(rules) == 1
    assert rules[0]["to"] == values["networkPolicy"]["pushgateway"]["to"]


@pytest.mark.parametrize("values, message", [
    (merge(PUSH, WITH_SECRET, {"mode": "schedule"}), "metrics.pushgateway is for mode cronjob"),
    (merge(PUSH, {"secret": {"create": True, "personalAccessToken": PAK}}), "username needs a password"),
    (merge({"metrics": {"pushgateway": {"url": URL}}}, WITH_EXISTING), "metrics.pushgateway.username is empty"),
])
def test_inconsistent_pushgateway_settings_fail(chart, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        chart.render(values, name=RELEASE, namespace="polyteia", is_install=True)


@pytest.mark.parametrize("key", ["PUSHGATEWAY_PASSWORD", "PUSHGATEWAY_PASSWORD_FILE"])
def test_the_password_inside_config_is_refused(chart, chart_without_schema, key):
    values = {"config": {key: "leaked"}}
    with pytest.raises(helm.HelmValuesError, match=key):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmRenderError, match="secrets must not go into the ConfigMap"):
        chart_without_schema.render(values, name=RELEASE)
    jobs = {"jobs": [{"name": "permits", "config": {key: "leaked", "SOURCE_DATABASE_SQL_QUERY": "SELECT 1",
                                                     "DATASET_ID": "ds"}}]}
    with pytest.raises(helm.HelmRenderError, match="secrets must not go into the ConfigMap"):
        chart_without_schema.render(jobs, name=RELEASE)


def test_a_url_that_is_not_one_is_refused(chart):
    for url in ["pushgateway:9091", "http://user:pw@push:9091", "http://push:9091/?x=1"]:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema({"metrics": {"pushgateway": {"url": url}}})
