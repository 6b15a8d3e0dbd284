"""Fixtures of the deployment tests: helm v4 fetched once per machine into .tools/."""

from __future__ import annotations

import pytest
from deploy_support import Helm, load_k8s_tools


@pytest.fixture(scope="session")
def helm() -> Helm:
    """The pinned helm binary; fetching it must work, so a failure fails the tests loudly."""
    return Helm(load_k8s_tools().helm())
