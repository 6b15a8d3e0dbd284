"""Everything about the states of an analysis, as data: read this file top to bottom.

pending ─▶ (downloading ─▶ uploading) ─▶ submitting ─▶ submitted ─▶ fetching_results ─▶ finished
   │             │              │             │            │               │
   └─────────────┴──────────────┴─────────────┴────────────┴───────────────┴──▶ failed · canceled

A `source_url` is downloaded first (`downloading`, holding no Valossa slot), then uploaded to
Valossa (`uploading`, which takes a slot). Two moves go back: downloading → pending (downloaded,
but no slot came free in time; the file is dropped) and uploading → downloading (the downloaded
bytes are gone: the uploading worker died, or Valossa failed the upload), which frees the slot.

Which moves are allowed, which states the worker works on and with which step, which hold one
of the VALOSSA_MAX_IN_FLIGHT slots, which the CMS can cancel without asking Valossa, and what a
Valossa job status means for us. Pure: no database, no network; SQL predicates are generated
from these sets (see models.py).
"""

from __future__ import annotations

from enum import StrEnum


class AnalysisStatus(StrEnum):
    PENDING = "pending"  #: stored, waiting for a free Valossa slot (the durable backlog)
    DOWNLOADING = "downloading"  #: we download source_url to a local file (no Valossa slot yet)
    UPLOADING = "uploading"  #: we copy the downloaded source to Valossa in chunks
    SUBMITTING = "submitting"  #: new_job may have reached Valossa; its job_id is not stored yet
    SUBMITTED = "submitted"  #: Valossa has the job; valossa_status says how far it is
    FETCHING_RESULTS = "fetching_results"  #: Valossa finished; we are storing the results
    FINISHED = "finished"  #: every requested result is stored (or recorded as absent)
    FAILED = "failed"  #: ended with an error; `error` says why
    CANCELED = "canceled"  #: canceled by the CMS (and at Valossa, when it had the job)


_ENDINGS = frozenset({AnalysisStatus.FAILED, AnalysisStatus.CANCELED})

TRANSITIONS: dict[AnalysisStatus, frozenset[AnalysisStatus]] = {
    AnalysisStatus.PENDING: frozenset({AnalysisStatus.DOWNLOADING, AnalysisStatus.SUBMITTING})
    | _ENDINGS,
    # Back to pending: downloaded, but no Valossa slot came free in time (the file is dropped).
    AnalysisStatus.DOWNLOADING: frozenset({AnalysisStatus.PENDING, AnalysisStatus.UPLOADING})
    | _ENDINGS,
    # Back to downloading: the downloaded bytes are gone (worker died, Valossa failed the upload).
    AnalysisStatus.UPLOADING: frozenset({AnalysisStatus.SUBMITTING, AnalysisStatus.DOWNLOADING})
    | _ENDINGS,
    AnalysisStatus.SUBMITTING: frozenset({AnalysisStatus.SUBMITTED}) | _ENDINGS,
    AnalysisStatus.SUBMITTED: frozenset({AnalysisStatus.FETCHING_RESULTS}) | _ENDINGS,
    # Valossa finished (and billed) the job: it can no longer be canceled, only fail to store.
    AnalysisStatus.FETCHING_RESULTS: frozenset({AnalysisStatus.FINISHED, AnalysisStatus.FAILED}),
    AnalysisStatus.FINISHED: frozenset(),
    AnalysisStatus.FAILED: frozenset(),
    AnalysisStatus.CANCELED: frozenset(),
}

#: States an analysis never leaves.
TERMINAL: frozenset[AnalysisStatus] = frozenset(s for s, moves in TRANSITIONS.items() if not moves)

#: States that hold one of the VALOSSA_MAX_IN_FLIGHT slots (the job is, or is about to be, at
#: Valossa). A download does not: a slow source must not keep other media from Valossa.
#: Results are fetched after Valossa finished, so that no longer counts.
HOLDS_SLOT: frozenset[AnalysisStatus] = frozenset(
    {AnalysisStatus.UPLOADING, AnalysisStatus.SUBMITTING, AnalysisStatus.SUBMITTED}
)

#: States the CMS can cancel on our side alone: Valossa has no job (and none is on its way).
CANCELLABLE_LOCALLY: frozenset[AnalysisStatus] = frozenset(
    {AnalysisStatus.PENDING, AnalysisStatus.DOWNLOADING, AnalysisStatus.UPLOADING}
)

#: States whose bytes are moving (downloaded, or sent to Valossa): the analysis shows progress.
TRANSFERRING: frozenset[AnalysisStatus] = frozenset(
    {AnalysisStatus.DOWNLOADING, AnalysisStatus.UPLOADING}
)


class Step(StrEnum):
    """What the worker does to an analysis it claimed, by the analysis's state."""

    DOWNLOAD = "download"  #: download source_url, wait for a slot, upload it to Valossa
    RESTART_UPLOAD = "restart_upload"  #: an upload whose worker stopped: download again
    SUBMIT = "submit"  #: new_job (or adopt the job an earlier attempt created)
    CHECK_STATUS = "check_status"  #: job_status, and act on what it says
    FETCH_RESULTS = "fetch_results"  #: job_results of every requested type, then finish


#: The step that works on each claimable state. PENDING rows are not claimed by due time but
#: taken from the backlog: into a free slot (leases.claim_backlog), or, with a source_url, into
#: the download pool (leases.claim_downloads). An UPLOADING row is claimed by due time only
#: when the step that uploaded it stopped (its lease ran out).
STEP_FOR: dict[AnalysisStatus, Step] = {
    AnalysisStatus.DOWNLOADING: Step.DOWNLOAD,
    AnalysisStatus.UPLOADING: Step.RESTART_UPLOAD,
    AnalysisStatus.SUBMITTING: Step.SUBMIT,
    AnalysisStatus.SUBMITTED: Step.CHECK_STATUS,
    AnalysisStatus.FETCHING_RESULTS: Step.FETCH_RESULTS,
}

#: States whose step runs in the worker's download pool (SOURCE_DOWNLOAD_CONCURRENCY steps per
#: worker, apart from its other steps, so slow sources cannot starve them); claimed by
#: leases.claim_downloads, never by claim_due.
DOWNLOAD_POOL: frozenset[AnalysisStatus] = frozenset({AnalysisStatus.DOWNLOADING})

#: States the worker claims when they are due (leases.claim_due).
WORKED: frozenset[AnalysisStatus] = frozenset(STEP_FOR) - DOWNLOAD_POOL


class InvalidTransition(Exception):
    """A transition that the state machine does not allow."""

    def __init__(self, current: AnalysisStatus, target: AnalysisStatus) -> None:
        super().__init__(f"an analysis cannot go from {current} to {target}")
        self.current = current
        self.target = target


def transition(current: AnalysisStatus, target: AnalysisStatus) -> AnalysisStatus:
    """Return `target` if the move from `current` is allowed, else raise InvalidTransition."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


def first_state(*, needs_download: bool) -> AnalysisStatus:
    """Where a pending analysis goes when it leaves the backlog: a source_url is downloaded
    first (without a slot), anything else is submitted (into a free slot)."""
    return AnalysisStatus.DOWNLOADING if needs_download else AnalysisStatus.SUBMITTING


#: The job_status values Valossa documents for a job that has not ended.
VALOSSA_RUNNING = frozenset({"queued", "on_hold", "preparing_analysis", "processing"})
#: Of those, the ones of a job that has not started: cancel_job may still stop it.
VALOSSA_WAITING = frozenset({"queued", "on_hold"})


def after_valossa_status(valossa_status: str) -> AnalysisStatus | None:
    """What a job_status value means for a submitted analysis: the state to move to, or None
    to keep polling. Only the documented end states end it; any other value, even one Valossa
    introduces in the future, is polled again ("More status values may be introduced")."""
    if valossa_status == "finished":
        return AnalysisStatus.FETCHING_RESULTS
    if valossa_status == "error":
        return AnalysisStatus.FAILED
    if valossa_status == "canceled":
        # Not in job_status's documented list, but cancel_job answers it as the job's status.
        return AnalysisStatus.CANCELED
    return None
