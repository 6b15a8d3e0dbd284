"""Results on disk: built once when a job finishes, then streamed from files."""

from __future__ import annotations

from pathlib import Path

from service.emulator.metadata import ResultsInput, build_results


def write_results(inp: ResultsInput, directory: Path) -> dict[str, Path]:
    """Build every result type available for the job and write each to its own file."""
    documents = build_results(inp)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for result_type, data in documents.items():
        path = directory / result_type
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths[result_type] = path
    return paths
