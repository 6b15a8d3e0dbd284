"""The invariant checker: passes on Valossa's real files and on every generated core document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from metadata_support import GALLERY, TRANSCRIPT, results_input

from service.emulator.metadata import ResultsInput, build_results
from service.emulator.metadata.core import build_core
from service.emulator.metadata.invariants import check_core_metadata


def test_real_example_passes(real_full: dict[str, Any]) -> None:
    assert check_core_metadata(real_full) == []


def test_real_subset_passes(real_subset: dict[str, Any]) -> None:
    assert check_core_metadata(real_subset) == []


CASES = {
    "tiny clip": results_input(0.6),
    "one second": results_input(1.0),
    "short with gallery": results_input(5.0, gallery=GALLERY),
    "minute, ntsc fps": results_input(59.94, fps=29.97),
    "transcript given": results_input(30.0, transcript=TRANSCRIPT),
    "silent video": results_input(45.0, audio=False),
    "silent with transcript": results_input(20.0, audio=False, transcript=TRANSCRIPT),
    "not probed": results_input(None, job_id="unprobed-job"),
    "ten minutes": results_input(600.0, gallery=GALLERY),
}


@pytest.mark.parametrize("inp", CASES.values(), ids=CASES.keys())
def test_generated_core_documents_pass(inp: ResultsInput) -> None:
    doc = json.loads(build_results(inp)["core"])
    assert check_core_metadata(doc) == []


def test_two_hour_document_passes() -> None:
    # How fast it is built is measured in bench/metadata_size.py, not asserted here.
    doc = build_core(results_input(6816.389)).doc
    assert check_core_metadata(json.loads(json.dumps(doc))) == []
