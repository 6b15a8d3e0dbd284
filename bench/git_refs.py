"""The code of a git ref, extracted beside a bench run so both variants run in the same run."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: What a variant's processes run: the service, its migrations and their configuration.
SERVICE_PATHS = ("service", "migrations", "alembic.ini")


def source_tree(ref: str, root: Path, paths: tuple[str, ...] = SERVICE_PATHS) -> Path:
    """`paths` as they are at git `ref`, extracted under `root` (run with this venv)."""
    archive = subprocess.run(
        ["git", "archive", ref, *paths], cwd=REPO_ROOT, check=True, capture_output=True
    ).stdout
    tree = root / f"src-{ref}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree
