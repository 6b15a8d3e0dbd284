"""The state machine as data: every (from, to) pair, and every rule derived from the table."""

from __future__ import annotations

import itertools

import pytest

from service.analyses.models import NOT_TERMINAL_SQL
from service.analyses.states import (
    CANCELLABLE_LOCALLY,
    DOWNLOAD_POOL,
    HOLDS_SLOT,
    STEP_FOR,
    TERMINAL,
    TRANSFERRING,
    TRANSITIONS,
    VALOSSA_RUNNING,
    VALOSSA_WAITING,
    WORKED,
    AnalysisStatus,
    InvalidTransition,
    Step,
    after_valossa_status,
    first_state,
    transition,
)

S = AnalysisStatus
ALLOWED = {
    (S.PENDING, S.DOWNLOADING),
    (S.PENDING, S.SUBMITTING),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.CANCELED),
    (S.DOWNLOADING, S.PENDING),
    (S.DOWNLOADING, S.UPLOADING),
    (S.DOWNLOADING, S.FAILED),
    (S.DOWNLOADING, S.CANCELED),
    (S.UPLOADING, S.DOWNLOADING),
    (S.UPLOADING, S.SUBMITTING),
    (S.UPLOADING, S.FAILED),
    (S.UPLOADING, S.CANCELED),
    (S.SUBMITTING, S.SUBMITTED),
    (S.SUBMITTING, S.FAILED),
    (S.SUBMITTING, S.CANCELED),
    (S.SUBMITTED, S.FETCHING_RESULTS),
    (S.SUBMITTED, S.FAILED),
    (S.SUBMITTED, S.CANCELED),
    (S.FETCHING_RESULTS, S.FINISHED),
    (S.FETCHING_RESULTS, S.FAILED),
}


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(AnalysisStatus, AnalysisStatus))
)
def test_every_pair_of_states(current: AnalysisStatus, target: AnalysisStatus) -> None:
    """Every allowed move works; every other one is refused with InvalidTransition."""
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition) as refused:
            transition(current, target)
        assert refused.value.current is current
        assert refused.value.target is target
        # The message names both states: it is what a log or an error response shows.
        assert str(refused.value) == f"an analysis cannot go from {current} to {target}"


def test_the_table_names_every_state() -> None:
    assert set(TRANSITIONS) == set(AnalysisStatus)


def test_terminal_states_are_exactly_those_without_moves() -> None:
    assert {S.FINISHED, S.FAILED, S.CANCELED} == TERMINAL


def test_slots_are_held_from_upload_until_valossa_finished() -> None:
    """A download holds none: a slow source must not keep other media from Valossa."""
    assert {S.UPLOADING, S.SUBMITTING, S.SUBMITTED} == HOLDS_SLOT


def test_only_states_without_a_valossa_job_cancel_locally() -> None:
    assert {S.PENDING, S.DOWNLOADING, S.UPLOADING} == CANCELLABLE_LOCALLY
    assert not CANCELLABLE_LOCALLY & {S.SUBMITTING, S.SUBMITTED}


def test_transfers_show_progress() -> None:
    assert {S.DOWNLOADING, S.UPLOADING} == TRANSFERRING


def test_each_worked_state_has_its_step() -> None:
    assert STEP_FOR == {
        S.DOWNLOADING: Step.DOWNLOAD,
        S.UPLOADING: Step.RESTART_UPLOAD,
        S.SUBMITTING: Step.SUBMIT,
        S.SUBMITTED: Step.CHECK_STATUS,
        S.FETCHING_RESULTS: Step.FETCH_RESULTS,
    }
    # Downloads run in their own pool; the rest are claimed when due.
    assert {S.DOWNLOADING} == DOWNLOAD_POOL
    assert set(STEP_FOR) - DOWNLOAD_POOL == WORKED
    assert not WORKED & TERMINAL
    assert S.PENDING not in WORKED  # taken from the backlog, under the cap


def test_first_state_depends_on_whether_we_download() -> None:
    assert first_state(needs_download=True) is S.DOWNLOADING
    assert first_state(needs_download=False) is S.SUBMITTING


@pytest.mark.parametrize(
    ("valossa", "ours"),
    [
        ("finished", S.FETCHING_RESULTS),
        ("error", S.FAILED),
        ("canceled", S.CANCELED),
        ("queued", None),
        ("on_hold", None),
        ("preparing_analysis", None),
        ("processing", None),
        ("a_status_valossa_adds_next_year", None),
        ("", None),
        ("FINISHED", None),
    ],
)
def test_valossa_status_mapping(valossa: str, ours: AnalysisStatus | None) -> None:
    """Only documented end states end an analysis; anything else, known or not, is polled."""
    assert after_valossa_status(valossa) is ours


def test_waiting_valossa_states_are_running_ones() -> None:
    assert {"queued", "on_hold"} == VALOSSA_WAITING
    assert VALOSSA_WAITING < VALOSSA_RUNNING


def test_partial_index_predicate_is_generated_from_terminal() -> None:
    assert NOT_TERMINAL_SQL == "status NOT IN ('finished', 'failed', 'canceled')"
