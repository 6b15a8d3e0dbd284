"""What the rendered chart promises: hardened pods, probes, a migration hook, private secrets."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from deploy_support import (
    Helm,
    Manifest,
    ci_values,
    ci_values_doc,
    named,
    of_kind,
    pod_spec,
)

COMBINATIONS = ["default", "full", "existing-secret"]
SECRET_SETTINGS = {
    "DATABASE_URL",
    "VALOSSA_API_KEY",
    "INGEST_API_TOKENS",
    "CALLBACK_SIGNING_SECRET",
    "CMS_WEBHOOK_SECRET",
}


@pytest.fixture(scope="module", params=COMBINATIONS)
def manifests(request: pytest.FixtureRequest, helm: Helm) -> list[Manifest]:
    return helm.render([ci_values(request.param)])


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return of_kind(manifests, "Deployment") + of_kind(manifests, "Job")


def test_every_pod_runs_hardened(manifests: list[Manifest]) -> None:
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        tmp_volumes = [v for v in spec["volumes"] if "emptyDir" in v]
        # The worker also spools source_url downloads on a volume of their own.
        worker = workload["metadata"]["name"].endswith("-worker")
        assert [v["name"] for v in tmp_volumes] == (["tmp", "spool"] if worker else ["tmp"])
        assert all(v["emptyDir"]["sizeLimit"] for v in tmp_volumes), "a full disk evicts pods"
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["runAsNonRoot"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert container["resources"]["requests"], "unbounded pods starve their neighbours"


def test_api_and_worker_run_their_commands_with_probes(manifests: list[Manifest]) -> None:
    api = named(manifests, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert api["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert _probe(api, "livenessProbe") == ("/healthz", "http")
    assert _probe(api, "readinessProbe") == ("/readyz", "http")
    assert api["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}

    worker = named(manifests, "Deployment", "-worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["args"] == ["worker", "--health-host", "0.0.0.0", "--health-port", "8081"]
    assert worker["ports"] == [{"name": "health", "containerPort": 8081, "protocol": "TCP"}]
    assert _probe(worker, "livenessProbe") == ("/healthz", "health")
    assert _probe(worker, "readinessProbe") == ("/readyz", "health")


def _probe(container: dict[str, Any], kind: str) -> tuple[str, str]:
    get = container[kind]["httpGet"]
    return get["path"], get["port"]


def test_grace_periods_leave_time_for_a_clean_shutdown(manifests: list[Manifest]) -> None:
    api = pod_spec(named(manifests, "Deployment", "-api"))
    # preStop sleep + uvicorn's 20 s graceful shutdown must fit in the grace period.
    assert api["terminationGracePeriodSeconds"] >= 5 + 20
    assert (
        pod_spec(named(manifests, "Deployment", "-worker"))["terminationGracePeriodSeconds"] >= 30
    )


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(manifests: list[Manifest]) -> None:
    job = named(manifests, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    container = pod_spec(job)["containers"][0]
    assert container["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    api_account = pod_spec(named(manifests, "Deployment", "-api"))["serviceAccountName"]
    # The chart's ServiceAccount does not exist yet at pre-install.
    assert pod_spec(job).get("serviceAccountName") != api_account
    # At pre-install only hook resources exist: the Job may read no ConfigMap or release Secret.
    assert "envFrom" not in container
    database_url = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
    secret_name = database_url["valueFrom"]["secretKeyRef"]["name"]
    hook_secrets = [
        s
        for s in of_kind(manifests, "Secret")
        if "helm.sh/hook" in s["metadata"].get("annotations", {})
    ]
    if hook_secrets:
        (hook_secret,) = hook_secrets
        assert hook_secret["metadata"]["name"] == secret_name
        hook = hook_secret["metadata"]["annotations"]
        assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
        assert set(hook_secret["data"]) == {"DATABASE_URL"}, "the migration needs nothing else"
    else:
        assert secret_name == ci_values_doc("existing-secret")["secrets"]["existingSecret"]


def test_migrations_can_use_a_direct_database_url(helm: Helm) -> None:
    full = helm.render([ci_values("full")])
    hook_secret = named(full, "Secret", "-migrations")
    direct = ci_values_doc("full")["secrets"]["migrationsDatabaseUrl"]
    assert base64.b64decode(hook_secret["data"]["DATABASE_URL"]).decode() == direct

    existing = helm.render([ci_values("existing-secret")])
    container = pod_spec(named(existing, "Job", "-migrate"))["containers"][0]
    ref = next(e for e in container["env"] if e["name"] == "DATABASE_URL")["valueFrom"]
    assert ref["secretKeyRef"]["key"] == "DIRECT_DATABASE_URL"


def test_no_secret_value_lands_in_a_config_map(manifests: list[Manifest]) -> None:
    secret_values = {
        value
        for combination in COMBINATIONS
        for value in ci_values_doc(combination).get("secrets", {}).values()
        if value and combination != "existing-secret"
    }
    assert secret_values, "the ci values must carry secret sentinels for this check"
    for config_map in of_kind(manifests, "ConfigMap"):
        assert not set(config_map["data"]) & SECRET_SETTINGS
        for value in config_map["data"].values():
            assert not any(secret in value for secret in secret_values)
    for workload in workloads(manifests):
        for container in pod_spec(workload)["containers"]:
            for env in container.get("env", []):
                if env["name"] in SECRET_SETTINGS:
                    assert set(env) == {"name", "valueFrom"}, f"{env['name']} is inlined"
                    assert "secretKeyRef" in env["valueFrom"]


def test_pods_roll_when_their_config_changes(helm: Helm) -> None:
    before = named(helm.render([ci_values("default")]), "Deployment", "-worker")
    after = named(
        helm.render([ci_values("default")], ["config.logLevel=DEBUG"]), "Deployment", "-worker"
    )
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != (after["spec"]["template"]["metadata"]["annotations"][key])
    )


def test_disruption_budgets_cover_both_deployments(manifests: list[Manifest]) -> None:
    for component in ("api", "worker"):
        budget = named(manifests, "PodDisruptionBudget", f"-{component}")
        deployment = named(manifests, "Deployment", f"-{component}")
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        assert ("minAvailable" in budget["spec"]) != ("maxUnavailable" in budget["spec"])


def test_callbacks_ingress_exposes_only_the_callback_path(helm: Helm) -> None:
    manifests = helm.render([ci_values("full")])
    callbacks = named(manifests, "Ingress", "-callbacks")
    (rule,) = callbacks["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/callbacks/valossa/"]
    cms = named(manifests, "Ingress", "-cms-api")
    assert cms["spec"]["ingressClassName"] != callbacks["spec"]["ingressClassName"]
    service = of_kind(manifests, "Service")[0]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}


def test_webhooks_need_their_own_secret_in_the_secret(helm: Helm) -> None:
    no_secret = helm.render_error(
        [ci_values("default")], ["config.cmsWebhookUrl=https://cms.example/hooks"]
    )
    assert "secrets.cmsWebhookSecret is required" in no_secret
    secret = of_kind(helm.render([ci_values("full")]), "Secret")
    expected = ci_values_doc("full")["secrets"]["cmsWebhookSecret"]
    held = [
        base64.b64decode(s["data"]["CMS_WEBHOOK_SECRET"]).decode()
        for s in secret
        if "CMS_WEBHOOK_SECRET" in s.get("data", {})
    ]
    assert held == [expected]
