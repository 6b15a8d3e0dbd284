"""How large the emulator's results are and how long generating them takes, by video duration.

Run: .venv/bin/python bench/metadata_size.py
"""

from __future__ import annotations

import json
import time

from service.emulator.metadata import ResultsInput, build_results
from service.emulator.metadata.core import build_core, typical_technical
from service.emulator.metadata.invariants import check_core_metadata

DURATIONS_MIN = (1, 10, 113)


def _input(minutes: int) -> ResultsInput:
    technical = typical_technical(minutes * 60.0)
    request = {"media": {"video": {"url": "https://example.com/film.mp4"}, "title": "Bench film"}}
    return ResultsInput(f"bench-{minutes}", request, technical, None)


def main() -> None:
    """Print core size, core generation time, all-types time and size, and check time."""
    print(f"{'video':>8} {'core MB':>8} {'core s':>7} {'all MB':>7} {'all s':>6} {'check s':>8}")
    for minutes in DURATIONS_MIN:
        inp = _input(minutes)
        started = time.perf_counter()
        core = json.dumps(build_core(inp).doc).encode()
        core_s = time.perf_counter() - started
        started = time.perf_counter()
        results = build_results(inp)
        all_s = time.perf_counter() - started
        started = time.perf_counter()
        problems = check_core_metadata(json.loads(core))
        check_s = time.perf_counter() - started
        assert not problems, problems[:3]
        total_mb = sum(len(data) for data in results.values()) / 1e6
        print(
            f"{minutes:>5} min {len(core) / 1e6:>8.2f} {core_s:>7.2f}"
            f" {total_mb:>7.2f} {all_s:>6.2f} {check_s:>8.2f}"
        )


if __name__ == "__main__":
    main()
