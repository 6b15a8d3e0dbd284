"""What reaches the pods (NetworkPolicies), who scrapes them (ServiceMonitor), and `helm test`."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from deploy_support import (
    NAMESPACE,
    Helm,
    Manifest,
    ci_values,
    ci_values_doc,
    named,
    of_kind,
    pod_spec,
    validate_manifest,
)

COMBINATIONS = ["default", "full", "existing-secret"]


@pytest.fixture(scope="module", params=COMBINATIONS)
def manifests(request: pytest.FixtureRequest, helm: Helm) -> list[Manifest]:
    return helm.render([ci_values(request.param)])


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def _pod_labels(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    """Labels of every pod the release runs, by workload name."""
    pods = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"]
        for w in of_kind(manifests, "Deployment") + of_kind(manifests, "Job")
    }
    pods.update({p["metadata"]["name"]: p["metadata"]["labels"] for p in of_kind(manifests, "Pod")})
    return pods


def _ports(rule: dict[str, Any]) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = rule["ports"]
    return ports


def test_every_pod_of_the_release_denies_ingress_by_default(manifests: list[Manifest]) -> None:
    deny = named(manifests, "NetworkPolicy", "-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny, "no rule: whatever no other policy admits is refused"
    pods = _pod_labels(manifests)
    assert len(pods) == 4  # api, worker, migration Job, helm test pod
    for name, labels in pods.items():
        assert _selects(deny["podSelector"], labels), name


def test_api_pods_admit_only_their_http_port(manifests: list[Manifest]) -> None:
    policy = named(manifests, "NetworkPolicy", "-api")["spec"]
    api = named(manifests, "Deployment", "-api")
    assert policy["podSelector"] == api["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    (container_port,) = pod_spec(api)["containers"][0]["ports"]
    for rule in policy["ingress"]:
        assert _ports(rule) == [{"port": container_port["containerPort"], "protocol": "TCP"}]


def test_worker_pods_admit_only_their_health_port(manifests: list[Manifest]) -> None:
    policy = named(manifests, "NetworkPolicy", "-worker")["spec"]
    worker = named(manifests, "Deployment", "-worker")
    assert policy["podSelector"] == worker["spec"]["selector"]
    (health_port,) = pod_spec(worker)["containers"][0]["ports"]
    assert health_port["name"] == "health"
    for rule in policy["ingress"]:
        assert _ports(rule) == [{"port": health_port["containerPort"], "protocol": "TCP"}]


def test_by_default_any_source_reaches_the_api_and_the_health_port(helm: Helm) -> None:
    manifests = helm.render([ci_values("default")])
    for suffix in ("-api", "-worker"):
        first_rule = named(manifests, "NetworkPolicy", suffix)["spec"]["ingress"][0]
        assert "from" not in first_rule, "callbacks come from the internet, probes from the node"


def test_the_sources_of_the_api_and_the_health_port_are_configurable(helm: Helm) -> None:
    manifests = helm.render([ci_values("full")])
    values = ci_values_doc("full")["networkPolicy"]
    api_rule = named(manifests, "NetworkPolicy", "-api")["spec"]["ingress"][0]
    assert api_rule["from"] == values["apiFrom"]
    worker_rule = named(manifests, "NetworkPolicy", "-worker")["spec"]["ingress"][0]
    assert worker_rule["from"] == values["workerHealthFrom"]


@pytest.mark.parametrize(
    ("combination", "namespace", "pod_labels"),
    [
        ("default", "monitoring", None),
        ("full", "observability", {"app.kubernetes.io/name": "prometheus"}),
    ],
)
def test_the_monitoring_namespace_reaches_metrics_on_both_ports(
    helm: Helm, combination: str, namespace: str, pod_labels: dict[str, str] | None
) -> None:
    manifests = helm.render([ci_values(combination)])
    expected: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    }
    if pod_labels:
        expected["podSelector"] = {"matchLabels": pod_labels}
    for suffix in ("-api", "-worker"):
        rules = named(manifests, "NetworkPolicy", suffix)["spec"]["ingress"]
        assert [rule["from"] for rule in rules if "from" in rule].count([expected]) == 1


def test_no_monitoring_namespace_means_no_rule_of_its_own(helm: Helm) -> None:
    manifests = helm.render([ci_values("default")], ["metrics.monitoringNamespace="])
    for policy in of_kind(manifests, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert all("namespaceSelector" not in peer for peer in rule.get("from", []))


def test_the_helm_test_pod_may_reach_the_api_even_when_sources_are_restricted(
    helm: Helm,
) -> None:
    manifests = helm.render([ci_values("full")])
    test_pod = named(manifests, "Pod", "-test-readyz")
    rules = named(manifests, "NetworkPolicy", "-api")["spec"]["ingress"]
    assert any(
        _selects(peer["podSelector"], test_pod["metadata"]["labels"])
        for rule in rules
        for peer in rule.get("from", [])
        if set(peer) == {"podSelector"}
    )


def test_policies_follow_the_configured_ports(helm: Helm) -> None:
    manifests = helm.render([ci_values("default")], ["api.port=9000", "worker.healthPort=9001"])
    for suffix, port in (("-api", 9000), ("-worker", 9001)):
        rules = named(manifests, "NetworkPolicy", suffix)["spec"]["ingress"]
        assert {p["port"] for rule in rules for p in rule["ports"]} == {port}


def test_network_policies_can_be_switched_off(helm: Helm) -> None:
    manifests = helm.render([ci_values("default")], ["networkPolicy.enabled=false"])
    assert of_kind(manifests, "NetworkPolicy") == []


def test_service_monitor_is_opt_in(helm: Helm) -> None:
    assert of_kind(helm.render([ci_values("default")]), "ServiceMonitor") == []


def test_service_monitor_scrapes_the_api_service(helm: Helm) -> None:
    manifests = helm.render([ci_values("full")])
    values = ci_values_doc("full")["metrics"]["serviceMonitor"]
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == values["namespace"]
    assert values["labels"].items() <= monitor["metadata"]["labels"].items()
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (service,) = of_kind(manifests, "Service")
    assert _selects(spec["selector"], service["metadata"]["labels"])
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == (
        values["interval"],
        values["scrapeTimeout"],
    )


def test_the_service_monitor_check_catches_a_misspelt_field(helm: Helm) -> None:
    (monitor,) = of_kind(helm.render([ci_values("full")]), "ServiceMonitor")
    validate_manifest(monitor)
    broken = copy.deepcopy(monitor)
    endpoint = broken["spec"]["endpoints"][0]
    endpoint["scrapeTimout"] = endpoint.pop("scrapeTimeout")
    with pytest.raises(jsonschema.ValidationError, match="scrapeTimout"):
        validate_manifest(broken)


def test_the_helm_test_pod_is_a_hardened_hook_in_the_services_image(
    manifests: list[Manifest],
) -> None:
    pod = named(manifests, "Pod", "-test-readyz")
    annotations = pod["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "test"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    api = pod_spec(named(manifests, "Deployment", "-api"))["containers"][0]
    assert container["image"] == api["image"]
    assert container["securityContext"] == api["securityContext"]
    assert container["resources"]["requests"]
    env = {e["name"]: e["value"] for e in container["env"]}
    (service,) = of_kind(manifests, "Service")
    port = service["spec"]["ports"][0]["port"]
    assert env["READYZ_URL"] == f"http://{service['metadata']['name']}:{port}/readyz"


class _Readyz(BaseHTTPRequestHandler):
    """Answers /readyz with the next status of the server's `statuses` (the last one repeats)."""

    def do_GET(self) -> None:
        statuses: list[int] = self.server.statuses  # type: ignore[attr-defined]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        body = b'{"status": "ok"}' if status == 200 else b'{"detail": "schema not at head"}'
        self.send_response(status if self.path == "/readyz" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def readyz_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Readyz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_test_pod(
    helm: Helm, server: ThreadingHTTPServer, timeout_s: str
) -> subprocess.CompletedProcess[str]:
    """Run the test pod's own command here, against `server` instead of the api Service."""
    pod = named(helm.render([ci_values("default")]), "Pod", "-test-readyz")
    (container,) = pod["spec"]["containers"]
    assert container["command"][:2] == ["python", "-c"]
    host, port = server.server_address[:2]
    env = {"READYZ_URL": f"http://{host!s}:{port}/readyz", "READYZ_TIMEOUT_S": timeout_s}
    return subprocess.run(
        [sys.executable, *container["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_helm_test_passes_once_readyz_answers_200(
    helm: Helm, readyz_server: ThreadingHTTPServer
) -> None:
    readyz_server.statuses = [503, 200]  # type: ignore[attr-defined]
    result = _run_test_pod(helm, readyz_server, timeout_s="30")
    assert result.returncode == 0, result.stderr
    assert "/readyz: 200" in result.stdout


def test_the_helm_test_fails_with_the_reason_when_readyz_stays_503(
    helm: Helm, readyz_server: ThreadingHTTPServer
) -> None:
    readyz_server.statuses = [503]  # type: ignore[attr-defined]
    result = _run_test_pod(helm, readyz_server, timeout_s="0")
    assert result.returncode == 1
    assert "is not ready: 503" in result.stderr
    assert "schema not at head" in result.stderr
