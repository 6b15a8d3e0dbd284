"""The chart lints, renders in every value combination, and its output is valid Kubernetes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from deploy_support import (
    CHART_DIR,
    NAMESPACE,
    RELEASE,
    Helm,
    ci_values,
    ci_values_doc,
    of_kind,
    validate_manifest,
)

COMBINATIONS = ["default", "full", "existing-secret"]


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_helm_lint_is_clean(helm: Helm, combination: str) -> None:
    result = helm.run("lint", "--strict", str(CHART_DIR), "--values", str(ci_values(combination)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_rendered_manifests_validate_against_kubernetes_schemas(
    helm: Helm, combination: str
) -> None:
    manifests = helm.render([ci_values(combination)])
    for manifest in manifests:
        # Strict: a misspelt or misplaced field is an error, not silently dropped by the cluster.
        validate_manifest(manifest)
    # A ServiceMonitor may live where Prometheus looks (metrics.serviceMonitor.namespace).
    in_release = [m for m in manifests if m["kind"] != "ServiceMonitor"]
    assert {m["metadata"].get("namespace", NAMESPACE) for m in in_release} == {NAMESPACE}


def test_default_values_render_the_core_resources_only(helm: Helm) -> None:
    kinds = sorted(m["kind"] for m in helm.render([ci_values("default")]))
    assert kinds == [
        *["ConfigMap", "Deployment", "Deployment", "Job", "NetworkPolicy", "NetworkPolicy"],
        *["NetworkPolicy", "Pod", "PodDisruptionBudget", "PodDisruptionBudget", "Secret"],
        *["Secret", "Service", "ServiceAccount"],
    ]


def test_every_optional_feature_renders(helm: Helm) -> None:
    manifests = helm.render([ci_values("full")])
    assert len(of_kind(manifests, "HorizontalPodAutoscaler")) == 1
    ingress_paths = {
        path["path"]
        for ingress in of_kind(manifests, "Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert ingress_paths == {"/callbacks/valossa/", "/v1"}
    api = next(m for m in of_kind(manifests, "Deployment") if m["metadata"]["name"].endswith("api"))
    assert "replicas" not in api["spec"], "the HPA owns the replica count"


def test_existing_secret_creates_no_secret(helm: Helm) -> None:
    manifests = helm.render([ci_values("existing-secret")])
    assert of_kind(manifests, "Secret") == []
    refs = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for workload in of_kind(manifests, "Deployment") + of_kind(manifests, "Job")
        for container in workload["spec"]["template"]["spec"]["containers"]
        for env in container["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert refs == {"valossa-ingest-credentials"}


def test_missing_required_values_fail_with_a_clear_message(helm: Helm) -> None:
    error = helm.render_error([])
    assert "secrets.databaseUrl is required" in error
    assert "secrets.existingSecret" in error

    no_public_url = helm.render_error([ci_values("default")], ["config.publicBaseUrl="])
    assert "config.publicBaseUrl" in no_public_url


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("api.replicaCount=two", "/api/replicaCount"),
        ("worker.healthPort=true", "/worker/healthPort"),
        ("config.runWorkerInApi=maybe", "/config/runWorkerInApi"),
        ("config.logLevel=verbose", "/config/logLevel"),
        ("config.publicBaseUrl=callbacks.example.com", "/config/publicBaseUrl"),
        ("secrets.databaseUrl=mysql://db/x", "/secrets/databaseUrl"),
        ("api.autoscaling.enabled=yes", "/api/autoscaling/enabled"),
        ("ingress.callbacks.host=1", "/ingress/callbacks/host"),
        ("api.replicasCount=2", "/api"),
        ("networkPolicy.enabled=maybe", "/networkPolicy/enabled"),
        ("metrics.monitoringNamespace=Monitoring_NS", "/metrics/monitoringNamespace"),
        ("metrics.serviceMonitor.interval=soon", "/metrics/serviceMonitor/interval"),
        ("tests.readyzTimeoutSeconds=0", "/tests/readyzTimeoutSeconds"),
    ],
)
def test_schema_rejects_wrong_values(helm: Helm, value: str, where: str) -> None:
    error = helm.render_error([ci_values("default")], [value])
    assert "don't meet the specifications of the schema" in error
    assert where in error


def test_schema_accepts_the_documented_values() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    for combination in COMBINATIONS:
        jsonschema.validate(_merged(defaults, ci_values_doc(combination)), schema)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the defaults (maps merge, the rest replaces)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merged(base[key], value)
        else:
            merged[key] = value
    return merged


def test_every_value_is_documented() -> None:
    """Each leaf of values.yaml has a comment right above it or above one of its parent keys."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    leaves = [
        index
        for index, line in enumerate(lines)
        if ":" in line
        and not line.lstrip().startswith(("#", "-"))
        and not line.rstrip().endswith(":")
    ]
    undocumented = [lines[i].strip() for i in leaves if not _documented(lines, i)]
    assert undocumented == []


def _documented(lines: list[str], index: int) -> bool:
    current: int | None = index
    while current is not None:
        if current > 0 and lines[current - 1].lstrip().startswith("#"):
            return True
        current = _parent_key(lines, current)
    return False


def _parent_key(lines: list[str], index: int) -> int | None:
    indent = _indent(lines[index])
    for back in range(index - 1, -1, -1):
        stripped = lines[back].strip()
        if stripped and not stripped.startswith(("#", "-")) and _indent(lines[back]) < indent:
            return back
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


@pytest.mark.parametrize(
    ("combination", "callback_url"),
    [
        ("default", "https://ingest.example.com/callbacks/valossa/<token>"),
        ("full", "https://callbacks.example.com/callbacks/valossa/<token>"),
        ("existing-secret", "http://callbacks.example.com/callbacks/valossa/<token>"),
    ],
)
def test_notes_tell_the_callback_url(
    helm: Helm, tmp_path: Path, combination: str, callback_url: str
) -> None:
    result = helm.run(
        "install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client",
        "--hide-secret", "--kubeconfig", str(tmp_path / "none"),
        "--values", str(ci_values(combination)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert callback_url in notes
