"""Job states as Valossa reports them, and which of them end a job or allow cancelling it."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """The `status` field of job_status."""

    QUEUED = "queued"  #: accepted, waiting for its media and a slot
    ON_HOLD = "on_hold"  #: media is in, but the key already has its share of jobs analysing
    PREPARING_ANALYSIS = "preparing_analysis"  #: media transferred, analysis being set up
    PROCESSING = "processing"  #: analysis running
    FINISHED = "finished"  #: results available
    ERROR = "error"  #: failed; `details` says why
    CANCELED = "canceled"  #: canceled by cancel_job


class TransferStatus(StrEnum):
    """The `media_transfer_status` field of job_status."""

    QUEUED = "queued"  #: the download has not started
    DOWNLOADING = "downloading"  #: the download is running
    FINISHED = "finished"  #: video (and transcript) are in
    ERROR = "error"  #: the media could not be fetched or is not a video


END_STATES = frozenset({JobStatus.FINISHED, JobStatus.ERROR, JobStatus.CANCELED})
#: cancel_job succeeds only while the job waits; once analysis is set up it is too late.
CANCELLABLE = frozenset({JobStatus.QUEUED, JobStatus.ON_HOLD})
