"""The Helm chart charts/polyteia-db-connector, checked without a cluster.

Helm's own engine (Helm v4 as a library, through helm-python-sdk) lints the chart,
validates values against values.schema.json and renders the templates; every rendered
object is validated against the Kubernetes API schemas with kubernetes-validate in
strict mode (unknown fields are errors). Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "polyteia-db-connector"
EXAMPLES = ROOT / "examples"
EXAMPLE_VALUES = sorted(EXAMPLES.glob("values-*.yaml"))

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# the validator knows.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]

SECRET_MOUNT = "/var/run/secrets/polyteia-db-connector"
SECRET_VARS = {"PERSONAL_ACCESS_TOKEN", "SOURCE_DATABASE_PASSWORD"}
RELEASE = "city"
PAK = "pak_test_0123456789abcdef"
DB_PASSWORD = "d'b \\pw=@\";ü"

WITH_SECRET = {"secret": {"create": True, "personalAccessToken": PAK, "databasePassword": DB_PASSWORD}}
WITH_EXISTING = {
    "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "dbpw"}
}


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    """Deep-merges value dicts, later ones win (like several -f files)."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text())


# ---------------------------------------------------------------------------
# Rendering




class Rendered:
    """The objects of one render, with lookups by kind."""

    def __init__(self, manifests: dict[str, str]):
        self.manifests = manifests
        self.notes = next((text for path, text in manifests.items() if path.endswith("NOTES.txt")), "")
        self.objects: list[dict[str, Any]] = []
        for path, text in manifests.items():
            if path.endswith("NOTES.txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    doc.setdefault("_template", path)
                    self.objects.append(doc)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, found {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}

    def workload_pod(self) -> dict[str, Any]:
        """The pod spec of the CronJob's Job or of the Deployment."""
        if self.of_kind("CronJob"):
            return self.one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return self.one("Deployment")["spec"]["template"]["spec"]

    def test_pod(self) -> dict[str, Any]:
        pods = [p for p in self.of_kind("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
        assert len(pods) == 1
        return pods[0]

    def pod_specs(self) -> list[dict[str, Any]]:
        return [self.workload_pod(), self.test_pod()["spec"]]


def render(chart, values: dict[str, Any] | None = None) -> Rendered:
    return Rendered(chart.render(values or {}, name=RELEASE, namespace="polyteia", is_install=True))


def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec["containers"]
    assert [c["name"] for c in containers] == ["connector"]
    return containers[0]


def env_of(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(pod_spec).get("env", [])}


VALUE_SETS = [pytest.param({}, id="defaults")] + [
    pytest.param(yaml.safe_load(p.read_text()), id=p.name) for p in EXAMPLE_VALUES
] + [
    pytest.param(merge({"mode": "schedule", "networkPolicy": {"enabled": True}}, WITH_SECRET), id="schedule+secret"),
    pytest.param(merge({"networkPolicy": {"enabled": True}}, WITH_EXISTING), id="cronjob+existing"),
]


def test_examples_exist():
    names = {p.name for p in EXAMPLE_VALUES}
    assert {"values-cronjob.yaml", "values-schedule.yaml", "values-existing-secret.yaml"} <= names


# ---------------------------------------------------------------------------
# Lint, schema, Kubernetes API validation


@pytest.mark.parametrize("values", VALUE_SETS)
def test_lint_is_clean(values):
    report = helm.lint(CHART, values, strict=True, kube_version="v1.27.0")
    assert report["total_charts_linted"] == 1
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems, problems
    assert not report["errors"], report["errors"]


@pytest.mark.parametrize("values", VALUE_SETS)
def test_values_pass_the_schema(chart, values):
    chart.validate_schema(values)


@pytest.mark.parametrize("values", VALUE_SETS)
def test_every_manifest_is_valid_kubernetes(chart, values):
    rendered = render(chart, values)
    assert rendered.objects
    for obj in rendered.objects:
        obj = {k: v for k, v in obj.items() if k != "_template"}
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {path}: {e.message}")


def test_the_validator_is_strict(chart):
    """Guards the check above: an unknown or misplaced field must fail validation."""
    cron = {k: v for k, v in render(chart).one("CronJob").items() if k != "_template"}
    bad = copy.deepcopy(cron)
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSIONS[-1], strict=True)
    bad = copy.deepcopy(cron)
    bad["spec"]["schedule"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBE_VERSIONS[-1], strict=True)


def test_names_labels_and_image(chart):
    rendered = render(chart)
    for obj in rendered.objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "polyteia-db-connector"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "polyteia-db-connector-0.1.0"
        assert len(obj["metadata"]["name"]) <= 63
    assert rendered.one("CronJob")["metadata"]["name"] == "city-polyteia-db-connector"
    assert container(rendered.workload_pod())["image"] == "ghcr.io/polyteia/polyteia-db-connector:0.1.0"

    digest = "sha256:" + "ab" * 32
    pinned = render(chart, {"image": {"tag": "9.9.9", "digest": digest}})
    assert container(pinned.workload_pod())["image"] == f"ghcr.io/polyteia/polyteia-db-connector@{digest}"
    long_name = render(chart, {"fullnameOverride": "x" * 80})
    assert len(long_name.one("CronJob")["metadata"]["name"]) <= 52


# ---------------------------------------------------------------------------
# Modes


def test_cronjob_mode_renders_cronjob_only(chart):
    rendered = render(chart)
    assert "CronJob" in rendered.kinds()
    assert "Deployment" not in rendered.kinds()
    assert "Service" not in rendered.kinds()
    cron = rendered.one("CronJob")
    spec = cron["spec"]
    assert spec["schedule"] == "0 0 * * *"
    assert "timeZone" not in spec
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2
    assert job["activeDeadlineSeconds"] == 7200
    rules = job["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob" and 3 in rules[0]["onExitCodes"]["values"]
    assert 12 not in rules[0]["onExitCodes"]["values"]  # API unavailable: worth a retry
    assert {15, 16} <= set(rules[0]["onExitCodes"]["values"])  # TLS refused, proxy refused: not
    assert 17 in rules[0]["onExitCodes"]["values"]  # a value that would not arrive exactly: the same data next time
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert container(pod)["args"] == ["run"]
    assert "ports" not in container(pod) and "livenessProbe" not in container(pod)
    assert env_of(pod)["CRON_SCHEDULE"] == "0 0 * * *"
    assert "CRON_TZ" not in env_of(pod)


def test_cronjob_custom_schedule_and_time_zone(chart):
    rendered = render(chart, {"cronSchedule": "15 4 * * 1-5", "timeZone": "Europe/Berlin",
                              "cronjob": {"startingDeadlineSeconds": 600, "backoffLimit": 0,
                                          "activeDeadlineSeconds": 900, "successfulJobsHistoryLimit": 1,
                                          "failedJobsHistoryLimit": 7}})
    spec = rendered.one("CronJob")["spec"]
    assert spec["schedule"] == "15 4 * * 1-5"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["startingDeadlineSeconds"] == 600
    assert spec["successfulJobsHistoryLimit"] == 1
    assert spec["failedJobsHistoryLimit"] == 7
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
    env = env_of(rendered.workload_pod())
    assert env["CRON_SCHEDULE"] == "15 4 * * 1-5"
    assert env["CRON_TZ"] == "Europe/Berlin"


def test_cronjob_example_values(chart):
    values = example("values-cronjob.yaml")
    rendered = render(chart, values)
    assert rendered.one("CronJob")["spec"]["schedule"] == values["cronSchedule"]
    assert env_of(rendered.workload_pod())["CRON_SCHEDULE"] == values["cronSchedule"]


def test_schedule_mode_renders_deployment_only(chart):
    rendered = render(chart, {"mode": "schedule", "cronSchedule": "*/5 * * * *"})
    assert "Deployment" in rendered.kinds()
    assert "CronJob" not in rendered.kinds()
    deploy = rendered.one("Deployment")["spec"]
    assert deploy["replicas"] == 1
    assert deploy["strategy"] == {"type": "Recreate"}
    pod = deploy["template"]["spec"]
    c = container(pod)
    assert c["args"] == ["schedule"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    env = env_of(pod)
    assert env["HEALTH_CHECK_PORT"] == "8080"
    assert env["CRON_SCHEDULE"] == "*/5 * * * *"
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    selector = deploy["selector"]["matchLabels"]
    assert all(deploy["template"]["metadata"]["labels"][k] == v for k, v in selector.items())

    service = rendered.one("Service")
    assert service["spec"]["ports"] == [{"name": "http-metrics", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == selector
    assert "annotations" not in service["metadata"]
    assert "prometheus.io/scrape" not in deploy["template"]["metadata"]["annotations"]


def test_schedule_mode_custom_port_and_prometheus(chart):
    rendered = render(chart, {"mode": "schedule", "healthCheckPort": 9090, "service": {"port": 9100},
                              "metrics": {"prometheusAnnotations": True}})
    deploy = rendered.one("Deployment")["spec"]["template"]
    c = container(deploy["spec"])
    assert c["ports"][0]["containerPort"] == 9090
    assert env_of(deploy["spec"])["HEALTH_CHECK_PORT"] == "9090"
    assert deploy["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert deploy["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert deploy["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    service = rendered.one("Service")
    assert service["spec"]["ports"][0]["port"] == 9100
    assert service["metadata"]["annotations"]["prometheus.io/port"] == "9100"


def test_schedule_example_values(chart):
    values = example("values-schedule.yaml")
    rendered = render(chart, values)
    assert "CronJob" not in rendered.kinds()
    assert env_of(rendered.workload_pod())["CRON_SCHEDULE"] == values["cronSchedule"]


def test_unknown_mode_is_rejected(chart):
    for mode in ("daemon", "CronJob", "", 1):
        with pytest.raises(helm.HelmValuesError, match="mode"):
            chart.validate_schema({"mode": mode})
        with pytest.raises(helm.HelmValuesError):
            render(chart, {"mode": mode})


def test_unknown_values_are_rejected(chart):
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"cronschedule": "0 1 * * *"})  # typo of cronSchedule
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"secret": {"personalAccesToken": "x"}})
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"cronSchedule": "every night"})
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"healthCheckPort": 70000})
    # Seconds are for the in-process scheduler only: a CronJob takes 5 fields.
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"cronSchedule": "0 30 2 * * *"})
    chart.validate_schema({"mode": "schedule", "cronSchedule": "0 30 2 * * *"})
    chart.validate_schema({"cronSchedule": "@daily", "timeZone": "Etc/GMT+1"})


# ---------------------------------------------------------------------------
# Configuration and secrets


def test_config_goes_to_the_configmap(chart):
    rendered = render(chart, {"config": {"SOURCE_DATABASE_TYPE": "postgres", "PARQUET_ROW_GROUP_SIZE": 1000000,
                                         "SOURCE_DATABASE_PORT": 5432, "ALLOW_EMPTY_RESULT": True,
                                         "LOG_LEVEL": None},
                              "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
                              "envFrom": [{"configMapRef": {"name": "shared-proxy"}}]})
    data = rendered.one("ConfigMap")["data"]
    assert data == {"SOURCE_DATABASE_TYPE": "postgres", "PARQUET_ROW_GROUP_SIZE": "1000000",
                    "SOURCE_DATABASE_PORT": "5432", "ALLOW_EMPTY_RESULT": "true", "LOG_FORMAT": "json"}
    for pod in rendered.pod_specs():
        c = container(pod)
        assert c["envFrom"][0] == {"configMapRef": {"name": "city-polyteia-db-connector"}}
        assert c["envFrom"][1] == {"configMapRef": {"name": "shared-proxy"}}
        assert env_of(pod)["HTTPS_PROXY"] == "http://proxy:3128"


def assert_secrets_are_files(rendered: Rendered, secret_name: str, items: dict[str, str]):
    """items: key in the Secret -> file name in the mount."""
    for pod in rendered.pod_specs():
        volumes = {v["name"]: v for v in pod["volumes"]}
        secret_volume = volumes["secrets"]["secret"]
        assert secret_volume["secretName"] == secret_name
        assert {i["key"]: i["path"] for i in secret_volume["items"]} == items
        assert secret_volume["defaultMode"] == 0o440
        mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
        assert mounts["secrets"]["mountPath"] == SECRET_MOUNT
        assert mounts["secrets"]["readOnly"] is True
        env = env_of(pod)
        assert not SECRET_VARS & env.keys(), "a secret is passed as a plain variable"
        files = set(items.values())
        assert env["PERSONAL_ACCESS_TOKEN_FILE"] == f"{SECRET_MOUNT}/personal-access-token"
        assert "personal-access-token" in files
        if "database-password" in files:
            assert env["SOURCE_DATABASE_PASSWORD_FILE"] == f"{SECRET_MOUNT}/database-password"
        else:
            assert "SOURCE_DATABASE_PASSWORD_FILE" not in env
        for source in container(pod)["envFrom"]:
            assert "secretRef" not in source
    data = rendered.one("ConfigMap")["data"]
    assert not (SECRET_VARS | {v + "_FILE" for v in SECRET_VARS}) & data.keys()


def test_chart_made_secret_is_mounted_as_files(chart):
    rendered = render(chart, merge({"mode": "schedule"}, WITH_SECRET))
    secret = rendered.one("Secret")
    assert secret["metadata"]["name"] == "city-polyteia-db-connector"
    assert base64.b64decode(secret["data"]["personal-access-token"]).decode() == PAK
    assert base64.b64decode(secret["data"]["database-password"]).decode() == DB_PASSWORD
    assert_secrets_are_files(rendered, "city-polyteia-db-connector",
                             {"personal-access-token": "personal-access-token",
                              "database-password": "database-password"})
    # The secret values appear nowhere but in the Secret (base64).
    for path, text in rendered.manifests.items():
        assert PAK not in text, path
        if not path.endswith("secret.yaml"):
            assert base64.b64encode(PAK.encode()).decode() not in text, path
    # A change of the Secret rolls the Deployment.
    assert "checksum/secret" in rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_chart_made_secret_without_database_password(chart):
    rendered = render(chart, {"secret": {"create": True, "personalAccessToken": PAK}})
    assert "database-password" not in rendered.one("Secret")["data"]
    assert_secrets_are_files(rendered, "city-polyteia-db-connector",
                             {"personal-access-token": "personal-access-token"})


def test_existing_secret_is_mounted_as_files(chart):
    rendered = render(chart, WITH_EXISTING)
    assert "Secret" not in rendered.kinds()
    assert_secrets_are_files(rendered, "creds", {"pak": "personal-access-token", "dbpw": "database-password"})


def test_existing_secret_example(chart):
    values = example("values-existing-secret.yaml")
    rendered = render(chart, values)
    secret = values["existingSecret"]
    assert_secrets_are_files(rendered, secret["name"], {secret["personalAccessTokenKey"]: "personal-access-token",
                                                         secret["databasePasswordKey"]: "database-password"})


def test_no_secret_configured_means_no_secret_volume(chart):
    rendered = render(chart)
    for pod in rendered.pod_specs():
        assert "secrets" not in {v["name"] for v in pod["volumes"]}
        assert not {"PERSONAL_ACCESS_TOKEN_FILE", "SOURCE_DATABASE_PASSWORD_FILE"} & env_of(pod).keys()
    assert "WARNING: no Secret is configured" in rendered.notes


@pytest.mark.parametrize("key", sorted(SECRET_VARS | {v + "_FILE" for v in SECRET_VARS}))
def test_secret_inside_config_is_refused(chart, chart_without_schema, key):
    values = {"config": {key: "pak_leaked"}}
    with pytest.raises(helm.HelmValuesError, match=key):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmError):
        render(chart, values)
    # Without the schema (helm --skip-schema-validation) the templates refuse it too.
    with pytest.raises(helm.HelmRenderError, match="secrets must not go into the ConfigMap"):
        chart_without_schema.render(values, name=RELEASE)


@pytest.mark.parametrize("key", ["CRON_SCHEDULE", "CRON_TZ", "HEALTH_CHECK_PORT", "TEMP_DIR"])
def test_chart_managed_settings_inside_config_are_refused(chart, key):
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"config": {key: "x"}})


@pytest.mark.parametrize("values, message", [
    (merge(WITH_SECRET, WITH_EXISTING), "not both"),
    ({"secret": {"create": True}}, "personalAccessToken is empty"),
    ({"env": [{"name": "PERSONAL_ACCESS_TOKEN", "value": "pak_plain"}]}, "plain value"),
    (merge(WITH_EXISTING, {"env": [{"name": "SOURCE_DATABASE_PASSWORD_FILE", "value": "/x"}]}), "plain value"),
    (merge(WITH_EXISTING, {"env": [{"name": "PERSONAL_ACCESS_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}]}), "already"),
])
def test_inconsistent_secret_settings_fail(chart, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(chart, values)


# ---------------------------------------------------------------------------
# CA bundle for the Polyteia API (TLS-inspecting proxies, private CAs)

CA_FILE = "/etc/polyteia-db-connector/ca/ca-bundle.pem"


@pytest.mark.parametrize("values, source", [
    pytest.param({"caBundle": {"configMapName": "corp-ca"}}, {"configMap": {"name": "corp-ca"}}, id="configmap"),
    pytest.param(merge({"mode": "schedule"}, {"caBundle": {"secretName": "corp-ca", "key": "bundle.crt"}}),
                 {"secret": {"secretName": "corp-ca"}}, id="secret-schedule"),
])
def test_ca_bundle_is_mounted_and_named_by_ssl_cert_file(chart, values, source):
    rendered = render(chart, values)
    key = values["caBundle"].get("key", "ca.pem")
    for pod in rendered.pod_specs():
        volume = {v["name"]: v for v in pod["volumes"]}["ca-bundle"]
        kind = next(iter(source))
        assert {k: v for k, v in volume[kind].items() if k not in ("items", "defaultMode")} == source[kind]
        assert volume[kind]["items"] == [{"key": key, "path": "ca-bundle.pem"}]
        assert volume[kind]["defaultMode"] == 0o444
        mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
        assert mounts["ca-bundle"] == {"name": "ca-bundle", "mountPath": "/etc/polyteia-db-connector/ca",
                                       "readOnly": True}
        assert env_of(pod)["SSL_CERT_FILE"] == CA_FILE
    chart.validate_schema(values)
    for obj in rendered.objects:
        obj = {k: v for k, v in obj.items() if k != "_template"}
        kubernetes_validate.validate(obj, KUBE_VERSIONS[-1], strict=True)


def test_no_ca_bundle_by_default(chart):
    for pod in render(chart).pod_specs():
        assert "ca-bundle" not in {v["name"] for v in pod["volumes"]}
        assert "SSL_CERT_FILE" not in env_of(pod)


@pytest.mark.parametrize("values, message", [
    ({"caBundle": {"configMapName": "a", "secretName": "b"}}, "not both"),
    ({"caBundle": {"configMapName": "a"}, "config": {"SSL_CERT_FILE": "/x.pem"}}, "set by the chart"),
    ({"caBundle": {"secretName": "a"}, "env": [{"name": "SSL_CERT_FILE", "value": "/x.pem"}]}, "set by the chart"),
])
def test_inconsistent_ca_bundle_settings_fail(chart, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(chart, values)


# ---------------------------------------------------------------------------
# Pod hardening


@pytest.mark.parametrize("values", [
    pytest.param({}, id="cronjob"),
    pytest.param(merge({"mode": "schedule"}, WITH_SECRET), id="schedule"),
    pytest.param(merge({"tmpSizeLimit": "8Gi"}, WITH_EXISTING), id="cronjob-existing-8Gi"),
])
def test_security_context_and_tmp_on_every_pod(chart, values):
    rendered = render(chart, values)
    size = values.get("tmpSizeLimit", "2Gi")
    specs = rendered.pod_specs()
    assert len(specs) == 2
    for pod in specs:
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["runAsUser"] == 65532
        assert psc["runAsGroup"] == 65532
        assert psc["fsGroup"] == 65532
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == "city-polyteia-db-connector"
        c = container(pod)
        csc = c["securityContext"]
        assert csc["readOnlyRootFilesystem"] is True
        assert csc["allowPrivilegeEscalation"] is False
        assert csc["capabilities"] == {"drop": ["ALL"]}
        assert csc["runAsNonRoot"] is True
        assert csc["runAsUser"] == 65532 and csc["runAsGroup"] == 65532
        assert csc["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["tmp"]["emptyDir"]["sizeLimit"] == size
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/tmp"] == "tmp"
        assert env_of(pod)["TEMP_DIR"] == "/tmp"
        assert c["resources"]["limits"]["memory"]


def test_scheduling_and_pull_settings_reach_every_pod(chart):
    values = {
        "imagePullSecrets": [{"name": "registry"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}}},
        "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "4Gi"}},
        "tmpMedium": "Memory",
    }
    for mode in ("cronjob", "schedule"):
        rendered = render(chart, merge(values, {"mode": mode}))
        for pod in rendered.pod_specs():
            assert pod["imagePullSecrets"] == values["imagePullSecrets"]
            assert pod["nodeSelector"] == values["nodeSelector"]
            assert pod["tolerations"] == values["tolerations"]
            assert pod["affinity"] == values["affinity"]
            # Helm merges maps: the default memory request stays.
            assert container(pod)["resources"] == {"requests": {"cpu": "1", "memory": "512Mi"},
                                                   "limits": {"memory": "4Gi"}}
            assert {v["name"]: v for v in pod["volumes"]}["tmp"]["emptyDir"]["medium"] == "Memory"


def test_service_account(chart):
    rendered = render(chart, {"serviceAccount": {"annotations": {"iam.example/role": "reader"}}})
    sa = rendered.one("ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    assert sa["metadata"]["annotations"] == {"iam.example/role": "reader"}
    external = render(chart, {"serviceAccount": {"create": False, "name": "shared"}})
    assert "ServiceAccount" not in external.kinds()
    for pod in external.pod_specs():
        assert pod["serviceAccountName"] == "shared"


# ---------------------------------------------------------------------------
# helm test


@pytest.mark.parametrize("values", [pytest.param(WITH_SECRET, id="cronjob"),
                                    pytest.param(merge({"mode": "schedule"}, WITH_EXISTING), id="schedule")])
def test_helm_test_pod_runs_check_like_the_workload(chart, values):
    rendered = render(chart, values)
    test_pod = rendered.test_pod()
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = test_pod["spec"]
    workload = rendered.workload_pod()
    assert spec["restartPolicy"] == "Never"
    assert container(spec)["args"] == ["check"]
    for field in ("securityContext", "volumes", "serviceAccountName", "automountServiceAccountToken"):
        assert spec[field] == workload[field], field
    for field in ("securityContext", "envFrom", "volumeMounts", "image", "resources"):
        assert container(spec)[field] == container(workload)[field], field
    assert env_of(spec) == env_of(workload)
    # Not an endpoint of the Service.
    assert test_pod["metadata"]["labels"]["app.kubernetes.io/component"] == "check"
    assert render(chart, merge(values, {"tests": {"enabled": False}})).of_kind("Pod") == []


# ---------------------------------------------------------------------------
# NetworkPolicy


def egress_ports(policy: dict[str, Any]) -> dict[tuple[str, int], list[Any]]:
    out = {}
    for rule in policy["spec"]["egress"]:
        for port in rule["ports"]:
            out[(port["protocol"], port["port"])] = rule.get("to", [])
    return out


def test_network_policy_is_optional(chart):
    assert "NetworkPolicy" not in render(chart).kinds()


def test_network_policy_cronjob_mode(chart):
    rendered = render(chart, {"networkPolicy": {"enabled": True,
                                                "database": {"cidrs": ["10.20.0.0/16"], "ports": [5432, 6432]},
                                                "api": {"cidrs": ["203.0.113.0/24"]}}})
    policy = rendered.one("NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["ingress"] == []  # nothing listens in cronjob mode
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "polyteia-db-connector",
                                                           "app.kubernetes.io/instance": RELEASE}
    ports = egress_ports(policy)
    assert ("UDP", 53) in ports and ("TCP", 53) in ports
    assert ports[("TCP", 5432)] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert ports[("TCP", 6432)] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    assert ports[("TCP", 443)] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]


def test_network_policy_schedule_mode_allows_the_health_port_only(chart):
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    rendered = render(chart, {"mode": "schedule", "healthCheckPort": 9090,
                              "networkPolicy": {"enabled": True, "ingress": {"from": peers}}})
    ingress = rendered.one("NetworkPolicy")["spec"]["ingress"]
    assert ingress == [{"ports": [{"protocol": "TCP", "port": 9090}], "from": peers}]
