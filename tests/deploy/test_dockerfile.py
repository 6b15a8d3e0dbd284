"""Static checks of the Dockerfile (there is no Docker engine here) and hadolint's verdict."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch

import pytest
from deploy_support import REPO_ROOT, load_k8s_tools

DOCKERFILE = REPO_ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def final_stage() -> list[Instruction]:
    parsed = instructions()
    last_from = max(i for i, instruction in enumerate(parsed) if instruction.keyword == "FROM")
    return parsed[last_from:]


def base_images() -> list[str]:
    """Every FROM image, with ARG defaults substituted."""
    defaults = dict(
        instruction.arguments.split("=", 1)
        for instruction in instructions()
        if instruction.keyword == "ARG" and "=" in instruction.arguments
    )
    images = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            image = instruction.arguments.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], image))
    return images


def test_hadolint_passes() -> None:
    hadolint = load_k8s_tools().hadolint()
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_build_copies_only_the_virtualenv() -> None:
    stages = [i.arguments for i in instructions() if i.keyword == "FROM"]
    assert len(stages) >= 2
    copies = [i.arguments for i in final_stage() if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]
    assert not [
        i for i in final_stage() if "pip install" in i.arguments or "apt-get" in i.arguments
    ]


@pytest.mark.parametrize("image", base_images())
def test_base_images_are_pinned(image: str) -> None:
    _, _, tag = image.partition(":")
    assert tag, f"{image} has no tag"
    assert tag != "latest"
    assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{image}: pin the full version"


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [i.arguments for i in final_stage() if i.keyword == "USER"]
    assert users, "the final stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can verify it"
    assert int(uid) != 0


def test_exec_form_entrypoint_and_command() -> None:
    stage = final_stage()
    (entrypoint,) = [json.loads(i.arguments) for i in stage if i.keyword == "ENTRYPOINT"]
    (command,) = [json.loads(i.arguments) for i in stage if i.keyword == "CMD"]
    assert entrypoint == ["valossa-ingest"]
    assert command == ["serve", "--host", "0.0.0.0", "--port", "8080"]


def test_no_healthcheck() -> None:
    assert not [i for i in instructions() if i.keyword == "HEALTHCHECK"]


def test_build_installs_the_locked_dependencies_without_caches() -> None:
    runs = " ".join(i.arguments for i in instructions() if i.keyword == "RUN")
    for install in re.findall(r"pip (?:install|wheel)[^&]*", runs):
        assert "--no-cache-dir" in install
    assert "-c constraints.txt" in runs


def test_build_context_holds_exactly_what_is_copied() -> None:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = {
        source.rstrip("/")
        for instruction in instructions()
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--from")
        for source in instruction.arguments.split()[:-1]
    }
    assert sources == allowed
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert not any(
        fnmatch(name, pattern) for name in ("tests", ".venv", ".git") for pattern in allowed
    )


def test_wheel_ships_the_migrations() -> None:
    """`valossa-ingest migrate` in the image needs the migrations inside the installed wheel."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatch("migrations", pattern) for pattern in include), include
    assert any(fnmatch("migrations.versions", pattern) for pattern in include), include
