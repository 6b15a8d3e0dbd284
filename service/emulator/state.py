"""Everything the emulator knows, kept in its data dir so that a restart resumes where it was.

Every change is saved (`save`, `forget`) before the answer that reports it leaves; see
persistence.py for why one SQLite file. Random streams restart from the seed after a restart,
except the id stream, which resumes (ids never repeat).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx

from service.emulator.auth import fingerprint
from service.emulator.codec import Stored, decode, encode, record_key
from service.emulator.entities import CallbackRecord, EmailRecord, Job, Stats, Upload
from service.emulator.persistence import STATE_DIRS, Row, StateStore, open_store, set_aside
from service.emulator.settings import EmulatorSettings, FaultConfig, split_keys
from service.emulator.status import END_STATES
from service.emulator.training import TrainingStore


class EmulatorState:
    """The emulator's jobs, uploads, training data, notifications, stats and clock."""

    def __init__(
        self, settings: EmulatorSettings, data_dir: Path, client: httpx.AsyncClient
    ) -> None:
        self.settings = settings
        self.client = client
        self.accepted_keys = settings.accepted_keys()
        self.keys_without_faces = {
            fingerprint(key) for key in split_keys(settings.keys_without_faces)
        }
        self.data_dir = data_dir
        self.tasks: set[asyncio.Task[None]] = set()
        self.store, rows = open_store(data_dir)
        self._init()
        try:
            self._restore(rows)
        except (KeyError, TypeError, ValueError) as exc:
            self.store.close()
            set_aside(data_dir, f"a record does not decode: {type(exc).__name__}: {exc}")
            self.store = StateStore(data_dir / "state.sqlite3")
            self._init()

    def _init(self) -> None:
        self.config: FaultConfig = self.settings.fault_config()
        self.ids_issued = 0
        self.reseed()
        self.clock_s = 0.0  #: emulated seconds the job clock has run, across restarts
        self.jobs: dict[str, Job] = {}
        self.unfinished: dict[str, None] = {}  # an insertion-ordered set
        self.by_customer_id: dict[tuple[str, str], list[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.training = TrainingStore(self.new_id, self.save, self.forget)
        self.callbacks: list[CallbackRecord] = []
        self.emails: list[EmailRecord] = []
        self.stats = Stats()
        for sub in STATE_DIRS:
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    def _restore(self, rows: list[Row]) -> None:
        for kind, _, data in rows:
            if kind == "meta":
                self._restore_meta(data)
                continue
            item = decode(kind, data, self.data_dir)
            if isinstance(item, Job):
                self._index(item)
            elif isinstance(item, Upload):
                self.uploads[item.upload_id] = item
            elif isinstance(item, CallbackRecord):
                self.callbacks.append(item)
            elif isinstance(item, EmailRecord):
                self.emails.append(item)
            else:
                self.training.restore(item)

    def _restore_meta(self, data: dict[str, Any]) -> None:
        self.clock_s = float(data["clock_s"])
        self.stats = Stats(
            Counter(data["jobs_created"]),
            int(data["max_unfinished"]),
            Counter(data["max_unfinished_by_key"]),
        )
        self.ids_issued = 0
        self.reseed()
        for _ in range(int(data["ids_issued"])):
            self._draw()

    def save(self, item: Stored) -> None:
        """Write an item's current state."""
        kind, key = record_key(item)
        self.store.put(kind, key, encode(item, self.data_dir))

    def forget(self, item: Stored) -> None:
        """Remove an item from the stored state."""
        self.store.delete(*record_key(item))

    def save_meta(self) -> None:
        """Write the clock, the stats and how many ids were issued."""
        self.store.put(
            "meta",
            "state",
            {
                "clock_s": self.clock_s,
                "ids_issued": self.ids_issued,
                "jobs_created": dict(self.stats.jobs_created),
                "max_unfinished": self.stats.max_unfinished,
                "max_unfinished_by_key": dict(self.stats.max_unfinished_by_key),
            },
        )

    def reseed(self) -> None:
        """Restart the random streams from the configured seed (or from entropy)."""
        seed = self.config.seed
        self._ids = random.Random(seed) if seed is not None else None
        self.ids_issued = 0
        self.fault_rng = random.Random(seed)
        self.job_rng = random.Random(None if seed is None else seed + 1)
        self.callback_rng = random.Random(None if seed is None else seed + 2)

    def new_id(self) -> str:
        """A UUID4 string; reproducible when a seed is set, never one already in use."""
        while True:
            new = self._draw()
            if new not in self.jobs and new not in self.uploads and not self.training.has(new):
                return new

    def _draw(self) -> str:
        self.ids_issued += 1
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
        """Register and save a new job, and count it in the stats."""
        with self.store.batch():
            self._index(job)
            self.stats.jobs_created[job.owner] += 1
            self.track(job)
            self.save(job)
            self.save_meta()

    def _index(self, job: Job) -> None:
        self.jobs[job.job_id] = job
        if job.customer_media_id is not None:
            self.by_customer_id.setdefault((job.owner, job.customer_media_id), []).append(
                job.job_id
            )
        if job.status not in END_STATES:
            self.unfinished[job.job_id] = None

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
        self.forget(job)

    async def cancel_tasks(self) -> None:
        """Stop all background work (downloads, results builds, callbacks)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def reset(self) -> None:
        """Forget everything and delete every file, as a fresh start would."""
        await self.cancel_tasks()
        for sub in STATE_DIRS:
            await asyncio.to_thread(shutil.rmtree, self.data_dir / sub, True)
        self.store.clear()
        self._init()

    def close(self) -> None:
        """Save the clock and close the store (the app's shutdown)."""
        self.save_meta()
        self.store.close()
