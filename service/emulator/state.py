"""The emulator's in-memory state: jobs, uploads, training data, sent callbacks and stats.

Nothing here survives a restart; files on disk (uploads, media, results) live under the data dir.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from service.emulator.media import SrtCue, TechnicalInfo
from service.emulator.settings import EmulatorSettings, FaultConfig
from service.emulator.status import END_STATES, JobStatus, TransferStatus
from service.emulator.training import TrainingStore


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
    busy: bool = False  #: a download or the results build is running
    technical: TechnicalInfo | None = None
    transcript: list[SrtCue] | None = None
    results: dict[str, Path] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    ended_at: datetime | None = None  #: when the job reached an end state (benchmarks use it)


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

    @property
    def n_chunks(self) -> int:
        """How many chunks make up the file."""
        return -(-self.size // self.chunk_size)


@dataclass
class CallbackAttempt:
    """One POST to a callback URL and what came of it."""

    at: datetime
    status_code: int | None
    error: str | None


@dataclass
class CallbackRecord:
    """A callback the emulator owed a job: dropped, or attempted once or twice."""

    job_id: str
    url: str
    body: dict[str, str]
    created_at: datetime
    dropped: bool = False
    delivered: bool = False
    attempts: list[CallbackAttempt] = field(default_factory=list)


@dataclass
class EmailRecord:
    """An email notification that would have been sent."""

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


class EmulatorState:
    """Everything the emulator knows; owned by the app, touched only from its event loop."""

    def __init__(
        self, settings: EmulatorSettings, data_dir: Path, client: httpx.AsyncClient
    ) -> None:
        self.settings = settings
        self.client = client
        self.accepted_keys = settings.accepted_keys()
        self.data_dir = data_dir
        self.tasks: set[asyncio.Task[None]] = set()
        self._init()

    def _init(self) -> None:
        self.config: FaultConfig = self.settings.fault_config()
        self.reseed()
        self.jobs: dict[str, Job] = {}
        self.unfinished: dict[str, None] = {}  # an insertion-ordered set
        self.by_customer_id: dict[tuple[str, str], list[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.training = TrainingStore(self.new_id)
        self.callbacks: list[CallbackRecord] = []
        self.emails: list[EmailRecord] = []
        self.stats = Stats()
        for sub in ("jobs", "uploads", "images"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def reseed(self) -> None:
        """Restart the random streams from the configured seed (or from entropy)."""
        seed = self.config.seed
        self._ids = random.Random(seed) if seed is not None else None
        self.fault_rng = random.Random(seed)
        self.job_rng = random.Random(None if seed is None else seed + 1)
        self.callback_rng = random.Random(None if seed is None else seed + 2)

    def new_id(self) -> str:
        """A UUID4 string; reproducible when a seed is set."""
        if self._ids is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run background work that reset and shutdown can cancel."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def add_job(self, job: Job) -> None:
        """Register a new job and count it in the stats."""
        self.jobs[job.job_id] = job
        if job.customer_media_id is not None:
            self.by_customer_id.setdefault((job.owner, job.customer_media_id), []).append(
                job.job_id
            )
        self.stats.jobs_created[job.owner] += 1
        self.track(job)

    def track(self, job: Job) -> None:
        """Keep the unfinished set and its high-water marks in step with the job's status."""
        if job.status in END_STATES or job.job_id not in self.jobs:
            self.unfinished.pop(job.job_id, None)
            return
        self.unfinished[job.job_id] = None
        self.stats.max_unfinished = max(self.stats.max_unfinished, len(self.unfinished))
        mine = self.unfinished_count(job.owner)
        by_key = self.stats.max_unfinished_by_key
        by_key[job.owner] = max(by_key[job.owner], mine)

    def unfinished_count(self, owner: str) -> int:
        """Jobs of one key not in an end state."""
        return sum(1 for job_id in self.unfinished if self.jobs[job_id].owner == owner)

    def remove_job(self, job: Job) -> None:
        """Forget a job (its files are removed by the caller)."""
        self.jobs.pop(job.job_id, None)
        self.unfinished.pop(job.job_id, None)
        if job.customer_media_id is not None:
            ids = self.by_customer_id.get((job.owner, job.customer_media_id), [])
            if job.job_id in ids:
                ids.remove(job.job_id)

    async def cancel_tasks(self) -> None:
        """Stop all background work (downloads, results builds, callbacks)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Forget everything and delete every file, as a restart would."""
        await self.cancel_tasks()
        for sub in ("jobs", "uploads", "images"):
            await asyncio.to_thread(shutil.rmtree, self.data_dir / sub, True)
        self._init()
