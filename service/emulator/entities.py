"""What the emulator keeps about jobs, uploads, callbacks and emails (galleries: training.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.emulator.media import SrtCue, TechnicalInfo
from service.emulator.status import JobStatus, TransferStatus


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, as list_jobs and the admin endpoints show times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Job:
    """One analysis job and where it is in its lifecycle."""

    job_id: str
    owner: str
    request: dict[str, Any]  #: the new_job body without api_key, echoed in the metadata
    created_at: datetime
    video_url: str
    transcript_url: str | None
    customer_media_id: str | None
    gallery_id: str | None  #: None: the key's default gallery
    callback_url: str | None
    email_to_group: str | None
    directory: Path
    status: JobStatus = JobStatus.QUEUED
    transfer: TransferStatus = TransferStatus.QUEUED
    details: str | None = None
    phase_elapsed: float = 0.0  #: emulated seconds spent in the current status
    pinned: bool = False  #: held in its status by the admin API
    busy: bool = False  #: a download or the results build is running (never stored)
    technical: TechnicalInfo | None = None
    transcript: list[SrtCue] | None = None
    results: dict[str, Path] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    ended_at: datetime | None = None  #: when the job reached an end state (benchmarks use it)
    canceled_at_clock: float | None = None  #: the emulator clock (emulated s) at cancel_job


@dataclass(eq=False)
class Upload:
    """A chunked video upload, assembled in place in one preallocated file."""

    upload_id: str
    owner: str
    size: int
    chunk_size: int
    path: Path
    received: set[int] = field(default_factory=set)
    finalized: bool = False
    deleted: bool = False  #: its job was deleted, and with it the file

    @property
    def n_chunks(self) -> int:
        """How many chunks make up the file."""
        return -(-self.size // self.chunk_size)

    @property
    def usable(self) -> bool:
        """True when new_job may refer to it: finalized and not deleted with a job."""
        return self.finalized and not self.deleted


@dataclass
class CallbackAttempt:
    """One POST to a callback URL and what came of it."""

    at: datetime
    status_code: int | None
    error: str | None


@dataclass
class CallbackRecord:
    """A callback the emulator owed a job: dropped, or attempted once or twice."""

    record_id: str
    job_id: str
    url: str
    body: dict[str, str]
    created_at: datetime
    dropped: bool = False
    delivered: bool = False
    attempts: list[CallbackAttempt] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Nothing more will be sent: dropped, delivered or both attempts made."""
        return self.dropped or self.delivered or len(self.attempts) >= 2


@dataclass
class EmailRecord:
    """An email notification that would have been sent."""

    record_id: str
    job_id: str
    to_group: str
    status: str
    subject: str
    sent_at: datetime


@dataclass
class Stats:
    """Counters tests read to check what a client did."""

    jobs_created: Counter[str] = field(default_factory=Counter)
    max_unfinished: int = 0
    max_unfinished_by_key: Counter[str] = field(default_factory=Counter)
    #: Calls received per API function (faults included), since this process started.
    calls: Counter[str] = field(default_factory=Counter)
