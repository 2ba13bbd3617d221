"""The chart's `jobs` list: many queries in one release, one CronJob per job.

Rendered with Helm's own engine and validated against the Kubernetes API schemas, like
test_chart.py: the objects per job (names, labels, merged settings, secrets as files),
the shared ServiceAccount and NetworkPolicy, the H of a schedule, `helm test`, NOTES.txt,
and every refusal with the job's name in the message. Run with scripts/check-deploy.
"""

from __future__ import annotations

import base64
import copy
import re
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "polyteia-db-connector"
EXAMPLES = ROOT / "examples"
# libyaml's loader where PyYAML has it: 40 jobs render to a few hundred kilobytes.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]
RELEASE = "city"
FULLNAME = "city-polyteia-db-connector"
SECRET_MOUNT = "/var/run/secrets/polyteia-db-connector"
PAK = "pak_jobs_0123456789abcdef"
OTHER_PAK = "pak_jobs_other_key_42"
DB_PASSWORD = "d'b \\pw=@\";ü"

SHARED = {
    "cronSchedule": "30 2 * * *",
    "timeZone": "Europe/Berlin",
    "config": {
        "SOURCE_DATABASE_TYPE": "postgres",
        "SOURCE_DATABASE_HOST": "db.example.internal",
        "SOURCE_DATABASE_USER": "reader",
        "SOURCE_DATABASE_NAME": "city",
        "DUCKDB_MEMORY_LIMIT": "1536MB",
        "ALLOW_EMPTY_RESULT": True,
    },
    "existingSecret": {"name": "creds", "personalAccessTokenKey": "pak", "databasePasswordKey": "dbpw"},
}


def job(name: str, **extra: Any) -> dict[str, Any]:
    config = {"SOURCE_DATABASE_SQL_QUERY": f"SELECT * FROM db.public.{name.replace('-', '_')}",
              "DATASET_ID": f"ds_{name}"}
    config.update(extra.pop("config", {}))
    return {"name": name, "config": config, **extra}


def jobs(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [job(f"table-{i:02d}", **copy.deepcopy(extra)) for i in range(1, count + 1)]




class Rendered:
    def __init__(self, manifests: dict[str, str]):
        self.notes = next((t for p, t in manifests.items() if p.endswith("NOTES.txt")), "")
        self.text = "".join(t for p, t in manifests.items() if not p.endswith("NOTES.txt"))
        self.objects = [doc for p, t in manifests.items() if not p.endswith("NOTES.txt")
                        for doc in yaml.load_all(t, Loader=SAFE_LOADER) if doc]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
        return found[0]

    def cronjobs(self) -> dict[str, dict[str, Any]]:
        return {o["metadata"]["name"]: o for o in self.of_kind("CronJob")}

    def test_pods(self) -> dict[str, dict[str, Any]]:
        return {o["metadata"]["name"]: o for o in self.of_kind("Pod")
                if o["metadata"]["annotations"].get("helm.sh/hook") == "test"}


def render(chart, values: dict[str, Any], release: str = RELEASE) -> Rendered:
    return Rendered(chart.render(values, name=release, namespace="polyteia", is_install=True))


def pod_of(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    assert [c["name"] for c in pod_spec["containers"]] == ["connector"]
    return pod_spec["containers"][0]


def env_of(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(pod_spec).get("env", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def assert_valid_kubernetes(rendered: Rendered):
    for obj in rendered.objects:
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {path}: {e.message}")


# ---------------------------------------------------------------------------
# 0, 1, 3 and 40 jobs


@pytest.mark.parametrize("count", [0, 1, 3, 40])
def test_one_cronjob_per_job_all_valid(chart, count):
    values = {**SHARED, "jobs": jobs(count)}
    chart.validate_schema(values)
    rendered = render(chart, values)
    assert_valid_kubernetes(rendered)
    cronjobs = rendered.cronjobs()
    if count == 0:
        # No jobs: the single CronJob of before.
        assert list(cronjobs) == [FULLNAME]
        assert [c["metadata"]["name"] for c in rendered.of_kind("ConfigMap")] == [FULLNAME]
        return
    names = [f"table-{i:02d}" for i in range(1, count + 1)]
    assert sorted(cronjobs) == [f"{FULLNAME}-{n}" for n in names]
    assert sorted(c["metadata"]["name"] for c in rendered.of_kind("ConfigMap")) == sorted(cronjobs)
    assert sorted(rendered.test_pods()) == [f"{FULLNAME}-{n}-check" for n in names]
    # One ServiceAccount and (when enabled) one NetworkPolicy for the release.
    assert len(rendered.of_kind("ServiceAccount")) == 1
    assert not rendered.of_kind("NetworkPolicy")
    assert not rendered.of_kind("Deployment") and not rendered.of_kind("Secret")


def test_the_lint_is_clean_with_jobs():
    values = {**SHARED, "jobs": jobs(3), "networkPolicy": {"enabled": True}}
    report = helm.lint(CHART, values, strict=True, kube_version="v1.27.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], (problems, report["errors"])


def test_names_and_labels_select_one_job(chart):
    rendered = render(chart, {**SHARED, "jobs": jobs(3), "networkPolicy": {"enabled": True}})
    for n in ("table-01", "table-02", "table-03"):
        name = f"{FULLNAME}-{n}"
        cron = rendered.named("CronJob", name)
        # `kubectl get cronjobs -l app.kubernetes.io/component=<job>` finds this one only.
        selector = {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": n}
        assert [c for c in rendered.of_kind("CronJob") if selects(selector, c["metadata"]["labels"])] == [cron]
        for labels in (cron["spec"]["jobTemplate"]["metadata"]["labels"],
                       cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]):
            assert labels["app.kubernetes.io/component"] == n
            assert labels["app.kubernetes.io/name"] == "polyteia-db-connector"
            assert labels["app.kubernetes.io/instance"] == RELEASE
        assert rendered.named("ConfigMap", name)["metadata"]["labels"]["app.kubernetes.io/component"] == n
        pod = pod_of(cron)
        assert container(pod)["args"] == ["run"]
        assert container(pod)["envFrom"][0] == {"configMapRef": {"name": name}}
        assert pod["serviceAccountName"] == FULLNAME
        assert pod["automountServiceAccountToken"] is False
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    # The one NetworkPolicy covers every job's pods and test pods.
    policy = rendered.of_kind("NetworkPolicy")
    assert len(policy) == 1
    selector = policy[0]["spec"]["podSelector"]["matchLabels"]
    pods = [c["spec"]["jobTemplate"]["spec"]["template"]["metadata"] for c in rendered.of_kind("CronJob")]
    pods += [p["metadata"] for p in rendered.test_pods().values()]
    assert len(pods) == 6 and all(selects(selector, p["labels"]) for p in pods)


def test_the_jobs_settings_win_over_the_shared_ones(chart):
    values = {
        **SHARED,
        "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}, {"name": "NO_PROXY", "value": "db"}],
        "jobs": [
            job("permits"),
            job("budget", cronSchedule="15 4 * * 0", timeZone="UTC", suspend=True, activeDeadlineSeconds=900,
                config={"SOURCE_DATABASE_NAME": "finance", "ALLOW_EMPTY_RESULT": False,
                        "DUCKDB_MEMORY_LIMIT": None, "PARQUET_ROW_GROUP_SIZE": 1000000},
                resources={"limits": {"memory": "6Gi"}},
                env=[{"name": "HTTPS_PROXY", "value": "http://other-proxy:3128"}]),
        ],
    }
    rendered = render(chart, values)
    permits = rendered.named("ConfigMap", f"{FULLNAME}-permits")["data"]
    budget = rendered.named("ConfigMap", f"{FULLNAME}-budget")["data"]
    assert permits == {"SOURCE_DATABASE_TYPE": "postgres", "SOURCE_DATABASE_HOST": "db.example.internal",
                       "SOURCE_DATABASE_USER": "reader", "SOURCE_DATABASE_NAME": "city",
                       "DUCKDB_MEMORY_LIMIT": "1536MB", "ALLOW_EMPTY_RESULT": "true",
                       "SOURCE_DATABASE_SQL_QUERY": "SELECT * FROM db.public.permits", "DATASET_ID": "ds_permits",
                       "LOG_FORMAT": "json", "LOG_LEVEL": "info"}
    # The job wins, also with false; null removes a shared key; numbers stay plain.
    assert budget == {
        **{k: v for k, v in permits.items() if k != "DUCKDB_MEMORY_LIMIT"},
        "SOURCE_DATABASE_NAME": "finance", "ALLOW_EMPTY_RESULT": "false",
        "SOURCE_DATABASE_SQL_QUERY": "SELECT * FROM db.public.budget", "DATASET_ID": "ds_budget",
        "PARQUET_ROW_GROUP_SIZE": "1000000"}

    permits_cron = rendered.named("CronJob", f"{FULLNAME}-permits")["spec"]
    budget_cron = rendered.named("CronJob", f"{FULLNAME}-budget")["spec"]
    assert (permits_cron["schedule"], permits_cron["timeZone"], permits_cron["suspend"]) == ("30 2 * * *", "Europe/Berlin", False)
    assert (budget_cron["schedule"], budget_cron["timeZone"], budget_cron["suspend"]) == ("15 4 * * 0", "UTC", True)
    assert permits_cron["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 7200
    assert budget_cron["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
    permits_pod, budget_pod = pod_of({"spec": permits_cron}), pod_of({"spec": budget_cron})
    # resources are merged over the shared ones.
    assert container(permits_pod)["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
    assert container(budget_pod)["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "6Gi"}}
    # env: the job's entry replaces the shared one of that name, once.
    assert env_of(permits_pod)["HTTPS_PROXY"] == "http://proxy:3128"
    names = [e["name"] for e in container(budget_pod)["env"]]
    assert names.count("HTTPS_PROXY") == 1
    assert env_of(budget_pod)["HTTPS_PROXY"] == "http://other-proxy:3128"
    assert env_of(budget_pod)["NO_PROXY"] == "db"
    assert env_of(permits_pod)["CRON_SCHEDULE"] == "30 2 * * *"
    assert env_of(budget_pod)["CRON_SCHEDULE"] == "15 4 * * 0"
    assert env_of(budget_pod)["CRON_TZ"] == "UTC"


def test_a_query_or_dataset_may_be_shared_or_come_from_env(chart):
    values = {**SHARED, "config": {**SHARED["config"], "DATASET_ID": "ds_shared"},
              "jobs": [{"name": "a", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1"}},
                       {"name": "b", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 2"},
                        "env": [{"name": "DATASET_ID", "valueFrom": {"configMapKeyRef": {"name": "ids", "key": "b"}}}]}]}
    rendered = render(chart, values)
    assert rendered.named("ConfigMap", f"{FULLNAME}-a")["data"]["DATASET_ID"] == "ds_shared"
    assert "valueFrom" in [e for e in container(pod_of(rendered.named("CronJob", f"{FULLNAME}-b")))["env"]
                           if e["name"] == "DATASET_ID"][0]


# ---------------------------------------------------------------------------
# Secrets


def secret_volume(pod: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v for v in pod["volumes"]}["secrets"]["secret"]


def assert_secret_files(pod: dict[str, Any], secret_name: str, items: dict[str, str]):
    volume = secret_volume(pod)
    assert volume["secretName"] == secret_name
    assert {i["key"]: i["path"] for i in volume["items"]} == items
    assert volume["defaultMode"] == 0o440
    mounts = {m["name"]: m for m in container(pod)["volumeMounts"]}
    assert mounts["secrets"] == {"name": "secrets", "mountPath": SECRET_MOUNT, "readOnly": True}
    env = env_of(pod)
    assert not {"PERSONAL_ACCESS_TOKEN", "SOURCE_DATABASE_PASSWORD"} & env.keys()
    assert env["PERSONAL_ACCESS_TOKEN_FILE"] == f"{SECRET_MOUNT}/personal-access-token"
    if "database-password" in items.values():
        assert env["SOURCE_DATABASE_PASSWORD_FILE"] == f"{SECRET_MOUNT}/database-password"
    else:
        assert "SOURCE_DATABASE_PASSWORD_FILE" not in env
    for source in container(pod)["envFrom"]:
        assert "secretRef" not in source


def test_jobs_mount_the_shared_existing_secret_as_files(chart):
    rendered = render(chart, {**SHARED, "jobs": jobs(3)})
    assert not rendered.of_kind("Secret")
    for cron in rendered.of_kind("CronJob"):
        assert_secret_files(pod_of(cron), "creds", {"pak": "personal-access-token", "dbpw": "database-password"})
    for pod in rendered.test_pods().values():
        assert_secret_files(pod["spec"], "creds", {"pak": "personal-access-token", "dbpw": "database-password"})


def test_jobs_share_the_chart_made_secret_and_may_have_their_own(chart):
    values = {**{k: v for k, v in SHARED.items() if k != "existingSecret"},
              "secret": {"create": True, "personalAccessToken": PAK, "databasePassword": DB_PASSWORD},
              "jobs": [job("permits"),
                       # Another database: its own password, the shared key.
                       job("budget", secret={"create": True, "databasePassword": "budget-pw"},
                           config={"SOURCE_DATABASE_HOST": "finance-db"}),
                       # Another key, from a Secret that exists (key names as the shared existingSecret's).
                       job("trees", existingSecret={"name": "parks-creds", "databasePasswordKey": ""})]}
    rendered = render(chart, values)
    assert_valid_kubernetes(rendered)
    secrets = {s["metadata"]["name"]: s for s in rendered.of_kind("Secret")}
    assert sorted(secrets) == [FULLNAME, f"{FULLNAME}-budget"]
    decode = lambda s, k: base64.b64decode(s["data"][k]).decode()  # noqa: E731
    assert decode(secrets[FULLNAME], "personal-access-token") == PAK
    assert decode(secrets[FULLNAME], "database-password") == DB_PASSWORD
    assert decode(secrets[f"{FULLNAME}-budget"], "personal-access-token") == PAK
    assert decode(secrets[f"{FULLNAME}-budget"], "database-password") == "budget-pw"
    assert secrets[f"{FULLNAME}-budget"]["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE

    both = {"personal-access-token": "personal-access-token", "database-password": "database-password"}
    crons = rendered.cronjobs()
    assert_secret_files(pod_of(crons[f"{FULLNAME}-permits"]), FULLNAME, both)
    assert_secret_files(pod_of(crons[f"{FULLNAME}-budget"]), f"{FULLNAME}-budget", both)
    assert_secret_files(pod_of(crons[f"{FULLNAME}-trees"]), "parks-creds",
                        {"personal-access-token": "personal-access-token"})
    # The job with its own chart-made Secret rolls on its change, like the single CronJob.
    assert "checksum/secret" in crons[f"{FULLNAME}-budget"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]
    # The secret values are in the Secrets only.
    for cm in rendered.of_kind("ConfigMap") + rendered.of_kind("CronJob") + list(rendered.test_pods().values()):
        text = yaml.safe_dump(cm, allow_unicode=True)
        for secret in (PAK, DB_PASSWORD, "budget-pw", base64.b64encode(PAK.encode()).decode()):
            assert secret not in text


def test_a_job_with_its_own_key(chart):
    values = {**SHARED, "jobs": [job("permits"), job("other", secret={"create": True, "personalAccessToken": OTHER_PAK})]}
    rendered = render(chart, values)
    secret = rendered.named("Secret", f"{FULLNAME}-other")
    assert base64.b64decode(secret["data"]["personal-access-token"]).decode() == OTHER_PAK
    assert "database-password" not in secret["data"]
    assert_secret_files(pod_of(rendered.named("CronJob", f"{FULLNAME}-other")), f"{FULLNAME}-other",
                        {"personal-access-token": "personal-access-token"})
    assert_secret_files(pod_of(rendered.named("CronJob", f"{FULLNAME}-permits")), "creds",
                        {"pak": "personal-access-token", "dbpw": "database-password"})


# ---------------------------------------------------------------------------
# H in schedules


def minutes_of(rendered: Rendered) -> dict[str, str]:
    return {name.removeprefix(FULLNAME + "-"): c["spec"]["schedule"] for name, c in rendered.cronjobs().items()}


def test_h_spreads_forty_jobs_over_the_hour_deterministically(chart):
    values = {**SHARED, "cronSchedule": "H 2 * * *", "jobs": jobs(40)}
    first = minutes_of(render(chart, values))
    assert len(first) == 40
    minutes = set()
    for name, schedule in first.items():
        minute, rest = schedule.split(" ", 1)
        assert rest == "2 * * *", schedule
        assert 0 <= int(minute) <= 59
        minutes.add(int(minute))
    assert len(minutes) >= 30, sorted(minutes)
    # Same release and job names: the same minutes on every render, whatever the order of the list.
    assert minutes_of(render(chart, values)) == first
    assert minutes_of(render(chart, {**values, "jobs": list(reversed(values["jobs"]))})) == first
    # The container's CRON_SCHEDULE is the resolved one too.
    for cron in render(chart, values).of_kind("CronJob"):
        assert env_of(pod_of(cron))["CRON_SCHEDULE"] == cron["spec"]["schedule"]
    # Another release spreads differently.
    assert minutes_of(render(chart, values, release="town")) != {k: v for k, v in first.items()}


def test_h_minute_of_a_job_does_not_depend_on_unrelated_jobs(chart):
    alone = minutes_of(render(chart, {**SHARED, "jobs": [job("permits", cronSchedule="H 3 * * *")]}))
    with_others = minutes_of(render(chart, {**SHARED, "jobs": [job("permits", cronSchedule="H 3 * * *"),
                                                              job("budget"), job("trees", cronSchedule="0 5 * * *")]}))
    assert alone["permits"] == with_others["permits"]
    assert with_others["budget"] == "30 2 * * *" and with_others["trees"] == "0 5 * * *"


def test_h_in_the_hour_field(chart):
    rendered = render(chart, {**SHARED, "jobs": [job("weekly", cronSchedule="H H * * 1"), job("fixed", cronSchedule="5 H * * *")]})
    schedules = minutes_of(rendered)
    m, h, *rest = schedules["weekly"].split()
    assert 0 <= int(m) <= 59 and 0 <= int(h) <= 23 and rest == ["*", "*", "1"]
    m, h, *rest = schedules["fixed"].split()
    assert m == "5" and 0 <= int(h) <= 23 and rest == ["*", "*", "*"]


def test_h_in_the_single_cronjob(chart):
    rendered = render(chart, {**SHARED, "cronSchedule": "H 2 * * 1-5"})
    cron = rendered.named("CronJob", FULLNAME)
    assert re.fullmatch(r"([0-9]|[1-5][0-9]) 2 \* \* 1-5", cron["spec"]["schedule"]), cron["spec"]["schedule"]
    assert env_of(pod_of(cron))["CRON_SCHEDULE"] == cron["spec"]["schedule"]
    assert render(chart, {**SHARED, "cronSchedule": "H 2 * * 1-5"}).named("CronJob", FULLNAME)["spec"]["schedule"] \
        == cron["spec"]["schedule"]


def test_h_is_refused_in_schedule_mode(chart):
    with pytest.raises(helm.HelmRenderError, match="H .* is for mode cronjob"):
        render(chart, {**SHARED, "mode": "schedule", "cronSchedule": "H 2 * * *"})


# ---------------------------------------------------------------------------
# helm test and NOTES.txt


def test_helm_test_checks_every_job_with_its_settings(chart):
    rendered = render(chart, {**SHARED, "jobs": jobs(3)})
    pods = rendered.test_pods()
    assert len(pods) == 3
    for n in ("table-01", "table-02", "table-03"):
        pod = pods[f"{FULLNAME}-{n}-check"]
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        spec, workload = pod["spec"], pod_of(rendered.named("CronJob", f"{FULLNAME}-{n}"))
        assert container(spec)["args"] == ["check"]
        assert spec["restartPolicy"] == "Never"
        for field in ("securityContext", "volumes", "serviceAccountName", "automountServiceAccountToken"):
            assert spec[field] == workload[field], field
        for field in ("envFrom", "volumeMounts", "image", "resources", "securityContext"):
            assert container(spec)[field] == container(workload)[field], field
        assert env_of(spec) == env_of(workload)
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "check"
    assert not render(chart, {**SHARED, "jobs": jobs(3), "tests": {"enabled": False}}).of_kind("Pod")


def test_notes_list_the_jobs_and_their_schedules(chart):
    values = yaml.safe_load((EXAMPLES / "values-many-jobs.yaml").read_text())
    rendered = render(chart, values)
    schedules = minutes_of(rendered)
    notes = rendered.notes
    assert f"Mode: cronjob, {len(values['jobs'])} jobs." in notes
    for entry in values["jobs"]:
        line = next(l for l in notes.splitlines() if l.strip().startswith(entry["name"] + " "))
        assert schedules[entry["name"]] in line, line
        assert ("(suspended)" in line) == bool(entry.get("suspend")), line
    assert f"get cronjobs -l app.kubernetes.io/instance={RELEASE}" in notes
    assert "app.kubernetes.io/component=service-requests" in notes
    assert f"helm test {RELEASE}" in notes
    assert "WARNING" not in notes
    bare = render(chart, {"jobs": [{"name": "x", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1", "DATASET_ID": "d"}}]})
    assert "WARNING: no Secret is configured for x" in bare.notes
    assert "SOURCE_DATABASE_TYPE is set neither in config nor in the config of x" in bare.notes


def test_the_many_jobs_example(chart):
    values = yaml.safe_load((EXAMPLES / "values-many-jobs.yaml").read_text())
    assert values["mode"] == "cronjob"
    assert len({j["config"]["SOURCE_DATABASE_SQL_QUERY"] for j in values["jobs"]}) == 3
    rendered = render(chart, values)
    assert_valid_kubernetes(rendered)
    crons = {n.removeprefix(FULLNAME + "-"): c for n, c in rendered.cronjobs().items()}
    assert sorted(crons) == ["permits", "service-requests", "street-lights"]
    assert sum(c["spec"]["suspend"] for c in crons.values()) == 1
    assert values["cronSchedule"].startswith("H ")
    assert any(j.get("cronSchedule") and "H" not in j["cronSchedule"] for j in values["jobs"])  # its own schedule
    assert all("H" not in c["spec"]["schedule"] for c in crons.values())
    assert len(rendered.of_kind("NetworkPolicy")) == 1 and len(rendered.of_kind("ServiceAccount")) == 1
    # Installed with its documented release name, every CronJob name fits.
    for name in render(chart, values, release="city-tables").cronjobs():
        assert len(name) <= 52, name


# ---------------------------------------------------------------------------
# Refusals, each naming the job


@pytest.mark.parametrize("values, message", [
    pytest.param({"jobs": [job("service-requests-of-the-citizens-office")]},
                 r'job "service-requests-of-the-citizens-office": its CronJob name .* has 66 characters, Kubernetes allows 52',
                 id="name-too-long"),
    pytest.param({"jobs": [job("permits"), job("trees"), job("permits")]},
                 r'job "permits": the name is used twice in jobs \(jobs\[0\] and jobs\[2\]\)', id="duplicate"),
    pytest.param({"jobs": [job("permits"), {"name": "trees", "config": {"DATASET_ID": "ds_trees"}}]},
                 r'job "trees": SOURCE_DATABASE_SQL_QUERY is not set', id="no-query"),
    pytest.param({"jobs": [{"name": "trees", "config": {"SOURCE_DATABASE_SQL_QUERY": "SELECT 1"}}]},
                 r'job "trees": DATASET_ID is not set', id="no-dataset"),
    pytest.param({"jobs": [job("trees", config={"SOURCE_DATABASE_SQL_QUERY": ""})]},
                 r'job "trees": SOURCE_DATABASE_SQL_QUERY is not set', id="empty-query"),
    pytest.param({"jobs": [job("trees", secret={"create": True, "personalAccessToken": "p"},
                               existingSecret={"name": "x"})]},
                 r'job "trees": set either secret.create or existingSecret.name, not both', id="two-secrets"),
    pytest.param({"existingSecret": {"name": ""}, "jobs": [job("trees", secret={"create": True})]},
                 r'job "trees": secret.create is true but neither', id="secret-without-key"),
    pytest.param({"mode": "schedule", "jobs": [job("trees")]},
                 r"jobs is for mode cronjob .*mode schedule runs one query", id="schedule-mode"),
])
def test_refusals_name_the_job(chart, values, message):
    values = {**SHARED, **values}
    chart.validate_schema(values)  # the schema lets these through: the templates refuse them
    with pytest.raises(helm.HelmRenderError, match=message):
        render(chart, values)


def test_a_long_release_name_is_refused_per_job(chart):
    with pytest.raises(helm.HelmRenderError, match=r'job "permits": its CronJob name "municipal-data-platform-production-polyteia-db-conne-permits" has 60'):
        render(chart, {**SHARED, "jobs": [job("permits")]}, release="municipal-data-platform-production")


@pytest.mark.parametrize("bad, message", [
    pytest.param({"name": "Permits_2024"}, "Permits_2024", id="name-pattern"),
    pytest.param({"name": "x" * 51}, "name", id="name-length"),
    pytest.param({"config": {"PERSONAL_ACCESS_TOKEN": "pak_leaked"}}, "PERSONAL_ACCESS_TOKEN", id="secret-in-config"),
    pytest.param({"config": {"CRON_SCHEDULE": "0 1 * * *"}}, "CRON_SCHEDULE", id="chart-key-in-config"),
    pytest.param({"cronSchedule": "0 30 2 * * *"}, "cronSchedule", id="six-fields"),
    pytest.param({"schedule": "0 1 * * *"}, "schedule", id="unknown-key"),
])
def test_the_schema_refuses_bad_jobs(chart, bad, message):
    entry = {**job("permits"), **bad}
    with pytest.raises(helm.HelmValuesError, match=message):
        chart.validate_schema({**SHARED, "jobs": [entry]})


@pytest.mark.parametrize("bad, message", [
    pytest.param({"name": "Permits_2024"}, r'jobs\[0\]: name "Permits_2024" must be', id="name-pattern"),
    pytest.param({"config": {"PERSONAL_ACCESS_TOKEN": "pak_leaked", "DATASET_ID": "d", "SOURCE_DATABASE_SQL_QUERY": "s"}},
                 r'job "permits": config.PERSONAL_ACCESS_TOKEN: secrets must not go into the ConfigMap', id="secret-in-config"),
    pytest.param({"env": [{"name": "SOURCE_DATABASE_PASSWORD", "value": "pw_leaked"}]},
                 r'job "permits": env SOURCE_DATABASE_PASSWORD: a secret must not be a plain value', id="secret-in-env"),
])
def test_without_the_schema_the_templates_refuse_too(bad, message, tmp_path):
    copy_dir = tmp_path / "chart"
    shutil.copytree(CHART, copy_dir)
    (copy_dir / "values.schema.json").unlink()
    with helm.Chart.load(copy_dir) as unchecked:
        with pytest.raises(helm.HelmRenderError, match=message) as refused:
            unchecked.render({**SHARED, "jobs": [{**job("permits"), **bad}]}, name=RELEASE)
    # The message names the setting, never its value.
    assert "leaked" not in str(refused.value)
