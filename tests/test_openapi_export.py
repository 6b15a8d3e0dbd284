"""The published spec of our API is what the app produces (it never drifts)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

SPEC = REPO_ROOT / "openapi" / "service.json"


def test_committed_openapi_matches_the_app() -> None:
    produced = subprocess.run(
        [sys.executable, "-m", "service.cli", "openapi", "--output", "-"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    assert SPEC.exists(), "run `valossa-ingest openapi` to write openapi/service.json"
    assert json.loads(produced) == json.loads(SPEC.read_text()), (
        "openapi/service.json is stale: run `valossa-ingest openapi` and commit it"
    )


def test_spec_documents_the_cms_api() -> None:
    spec = json.loads(SPEC.read_text())
    paths = spec["paths"]
    for path in (
        "/v1/analyses",
        "/v1/analyses/{analysis_id}",
        "/v1/media/{customer_media_id}",
        "/v1/media/{customer_media_id}/metadata",
        "/callbacks/valossa/{token}",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path


def test_every_operation_is_in_a_documented_group_in_reading_order() -> None:
    spec = json.loads(SPEC.read_text())
    documented = [tag["name"] for tag in spec["tags"]]
    used = {
        tag
        for operations in spec["paths"].values()
        for op in operations.values()
        for tag in op["tags"]
    }
    assert used == set(documented)
    # The routes' order puts the hottest reads first; the groups keep the reader's order.
    assert documented[:3] == ["health", "analyses", "media"]
