"""The state table, pair by pair, and the rules of the downloading state."""

from __future__ import annotations

import itertools

import pytest

from service.analyses.states import (
    CANCELLABLE_LOCALLY,
    DOWNLOAD_POOL,
    HOLDS_SLOT,
    STEP_FOR,
    TERMINAL,
    TRANSFERRING,
    WORKED,
    AnalysisStatus,
    InvalidTransition,
    Step,
    first_state,
    transition,
)

S = AnalysisStatus
#: Every move the state machine allows; any other pair must be refused.
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


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair_is_allowed_or_refused_as_the_table_says(
    current: AnalysisStatus, target: AnalysisStatus
) -> None:
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition):
            transition(current, target)


def test_a_download_holds_no_valossa_slot_and_an_upload_does() -> None:
    assert S.DOWNLOADING not in HOLDS_SLOT
    assert S.PENDING not in HOLDS_SLOT
    assert {S.UPLOADING, S.SUBMITTING, S.SUBMITTED} == HOLDS_SLOT


def test_downloads_and_uploads_are_cancelled_locally_and_show_progress() -> None:
    assert {S.PENDING, S.DOWNLOADING, S.UPLOADING} == CANCELLABLE_LOCALLY
    assert {S.DOWNLOADING, S.UPLOADING} == TRANSFERRING


def test_downloads_run_in_their_own_pool_not_claimed_by_due_time() -> None:
    assert STEP_FOR[S.DOWNLOADING] is Step.DOWNLOAD
    assert STEP_FOR[S.UPLOADING] is Step.RESTART_UPLOAD
    assert {S.DOWNLOADING} == DOWNLOAD_POOL
    assert S.DOWNLOADING not in WORKED
    assert not WORKED & TERMINAL
    assert first_state(needs_download=True) is S.DOWNLOADING
    assert first_state(needs_download=False) is S.SUBMITTING
