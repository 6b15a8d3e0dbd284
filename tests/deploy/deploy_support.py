"""Helpers for the deployment tests: the pinned helm binary and rendered chart manifests."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "valossa-ingest"
CI_VALUES_DIR = CHART_DIR / "ci"
#: The Kubernetes version rendered for and validated against (the one helm v4 and kubectl ship for).
KUBE_VERSION = "1.35.0"
NAMESPACE = "media"
RELEASE = "ingest"

Manifest = dict[str, Any]

#: Custom resources the chart renders, with our own schema of each (kubernetes-validate knows
#: only the built-in kinds); see the schema file's description.
CUSTOM_RESOURCE_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): Path(__file__).with_name(
        "servicemonitor.schema.json"
    ),
}


def validate_manifest(manifest: Manifest) -> None:
    """Validate a rendered manifest strictly: a misspelt or misplaced field is an error."""
    custom = CUSTOM_RESOURCE_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
    if custom is None:
        kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
    else:
        jsonschema.validate(manifest, json.loads(custom.read_text()))


def load_k8s_tools() -> ModuleType:
    """Import scripts/k8s_tools.py, which is a script rather than a package module."""
    path = REPO_ROOT / "scripts" / "k8s_tools.py"
    spec = importlib.util.spec_from_file_location("k8s_tools", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def ci_values(name: str) -> Path:
    """The path of ci/<name>-values.yaml."""
    path = CI_VALUES_DIR / f"{name}-values.yaml"
    assert path.is_file(), path
    return path


def ci_values_doc(name: str) -> dict[str, Any]:
    """ci/<name>-values.yaml, parsed."""
    loaded = yaml.safe_load(ci_values(name).read_text())
    assert isinstance(loaded, dict)
    return loaded


@dataclass(frozen=True)
class Helm:
    """The helm binary fetched by scripts/k8s_tools.py, run against the chart."""

    binary: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run helm with `args`; the caller checks returncode."""
        return subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, check=False, timeout=60
        )

    def template_args(self, values: list[Path], sets: list[str]) -> list[str]:
        """Arguments of `helm template` for the chart with these values files and --set pairs."""
        args = ["template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE]
        args += ["--kube-version", KUBE_VERSION]
        for path in values:
            args += ["--values", str(path)]
        for pair in sets:
            args += ["--set", pair]
        return args

    def render(self, values: list[Path], sets: list[str] | None = None) -> list[Manifest]:
        """Render the chart and return its manifests; fails the test when rendering fails."""
        result = self.run(*self.template_args(values, sets or []))
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def render_error(self, values: list[Path], sets: list[str] | None = None) -> str:
        """Render the chart expecting failure and return helm's error output."""
        result = self.run(*self.template_args(values, sets or []))
        assert result.returncode != 0, "helm template succeeded but was expected to fail"
        return result.stderr


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    """The manifests of one kind."""
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, suffix: str) -> Manifest:
    """The one manifest of `kind` whose name ends with `suffix`."""
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} named *{suffix}, found {len(found)}"
    return found[0]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    """The pod spec of a Deployment or Job."""
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec
