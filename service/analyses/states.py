"""The life of an analysis as data: its states and the transitions allowed between them.

pending ─▶ (uploading) ─▶ submitting ─▶ submitted ─▶ fetching_results ─▶ finished
   │            │              │            │               │
   └────────────┴──────────────┴────────────┴───────────────┴──▶ failed · canceled
"""

from __future__ import annotations

from enum import StrEnum


class AnalysisStatus(StrEnum):
    PENDING = "pending"  #: stored, waiting for a free Valossa slot (the durable backlog)
    UPLOADING = "uploading"  #: we copy the source to Valossa in chunks
    SUBMITTING = "submitting"  #: new_job may have reached Valossa; its job_id is not stored yet
    SUBMITTED = "submitted"  #: Valossa has the job; valossa_status says how far it is
    FETCHING_RESULTS = "fetching_results"  #: Valossa finished; we are storing the results
    FINISHED = "finished"  #: every requested result is stored (or recorded as absent)
    FAILED = "failed"  #: ended with an error; `error` says why
    CANCELED = "canceled"  #: canceled by the CMS (and at Valossa, when it had the job)


TERMINAL: frozenset[AnalysisStatus] = frozenset(
    {AnalysisStatus.FINISHED, AnalysisStatus.FAILED, AnalysisStatus.CANCELED}
)

#: States that hold one of the VALOSSA_MAX_IN_FLIGHT slots.
IN_FLIGHT: frozenset[AnalysisStatus] = frozenset(
    {AnalysisStatus.UPLOADING, AnalysisStatus.SUBMITTING, AnalysisStatus.SUBMITTED}
)

_ENDINGS = frozenset({AnalysisStatus.FAILED, AnalysisStatus.CANCELED})

TRANSITIONS: dict[AnalysisStatus, frozenset[AnalysisStatus]] = {
    AnalysisStatus.PENDING: frozenset({AnalysisStatus.UPLOADING, AnalysisStatus.SUBMITTING})
    | _ENDINGS,
    AnalysisStatus.UPLOADING: frozenset({AnalysisStatus.SUBMITTING}) | _ENDINGS,
    AnalysisStatus.SUBMITTING: frozenset({AnalysisStatus.SUBMITTED}) | _ENDINGS,
    AnalysisStatus.SUBMITTED: frozenset({AnalysisStatus.FETCHING_RESULTS}) | _ENDINGS,
    AnalysisStatus.FETCHING_RESULTS: frozenset({AnalysisStatus.FINISHED, AnalysisStatus.FAILED}),
    AnalysisStatus.FINISHED: frozenset(),
    AnalysisStatus.FAILED: frozenset(),
    AnalysisStatus.CANCELED: frozenset(),
}


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


#: Valossa job_status values that end a job; any other value (even an unknown one): "ask again".
VALOSSA_FINISHED = "finished"
VALOSSA_ERROR = "error"
VALOSSA_CANCELED = "canceled"
VALOSSA_KNOWN_RUNNING = frozenset({"queued", "on_hold", "preparing_analysis", "processing"})
