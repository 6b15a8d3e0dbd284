"""The worker: APScheduler ticks that claim due work in Postgres and carry it one step further.

Every replica ticks; Postgres decides who does what (leases claimed with SKIP LOCKED), so the
scheduler's own job store is never shared. A callback NOTIFYs `valossa_ingest_due` so that a tick
runs at once instead of at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import Step
from service.analyses.steps.leases import claim_backlog, claim_due, flag_overdue
from service.analyses.steps.reconcile import check_status, fetch_results
from service.analyses.steps.submission import submit, upload_source
from service.analyses.steps.webhooks import deliver_due_webhooks
from service.resources import Resources, open_resources
from service.settings import Settings

log = logging.getLogger(__name__)

#: How many analyses one worker works on at once.
CONCURRENCY = 10
#: How long a stopping worker lets its steps under way finish (Kubernetes grants 30-60 s).
SHUTDOWN_GRACE_S = 20.0


def worker_name() -> str:
    """A name unique to this process, recorded in claims and events."""
    return f"worker:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs ticks: backlog submission, due status checks, results, sweeps and webhooks.

    A tick claims only as many analyses as this worker has free slots, and works on them in
    tasks of their own, so one slow upload never holds up the status checks of the others.
    """

    def __init__(
        self, resources: Resources, *, name: str | None = None, concurrency: int = CONCURRENCY
    ) -> None:
        self.step = Step(resources, worker=name or worker_name())
        self.concurrency = concurrency
        self._tick_lock = asyncio.Lock()
        self._again = False
        self._steps: set[asyncio.Task[None]] = set()
        self._wakeups: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return self.step.worker

    async def tick(self) -> None:
        """One round of work; never raises (one bad analysis must not stop the loop).

        A tick asked for while one runs is not dropped: the running tick goes round once more,
        so a callback's wake-up is acted on at once, not at the next interval.
        """
        self._again = True
        if self._tick_lock.locked():
            return
        async with self._tick_lock:
            while self._again:
                self._again = False
                try:
                    await self._tick()
                except Exception:
                    log.exception("worker tick failed; the next tick tries again")

    async def _tick(self) -> None:
        settings = self.step.settings
        async with self.step.transaction() as session:
            await flag_overdue(session, self.step.lifecycle)
        free = self.concurrency - len(self._steps)
        claimed: list[Analysis] = []
        if free > 0:
            async with self.step.transaction() as session:
                claimed += await claim_backlog(
                    session,
                    self.step.lifecycle,
                    max_in_flight=settings.valossa_max_in_flight,
                    lease=self.step.lease,
                    submit_deadline=timedelta(seconds=settings.submit_deadline_s),
                    limit=free,
                )
        free -= len(claimed)
        if free > 0:
            async with self.step.transaction() as session:
                claimed += await claim_due(
                    session, worker=self.name, lease=self.step.lease, limit=free
                )
        for analysis in claimed:
            task = asyncio.create_task(self._work_on(analysis))
            self._steps.add(task)
            task.add_done_callback(self._steps.discard)

    async def deliver_webhooks(self) -> None:
        """Tell the CMS about analyses that ended; apart from the tick, so a slow CMS delays
        nothing else."""
        try:
            await deliver_due_webhooks(self.step)
        except Exception:
            log.exception("webhook delivery failed; the next round tries again")

    async def _work_on(self, analysis: Analysis) -> None:
        try:
            await self._advance(analysis)
        except Exception:
            log.exception("analysis %s: step failed; it will be retried", analysis.id)
            with contextlib.suppress(Exception):
                await self.step.retry_later(analysis.id, "internal error in worker step")
        # Work is often due again at once (results after "finished"); don't wait for the interval.
        self.wake()

    def wake(self) -> None:
        """Run a tick soon (after a callback's NOTIFY, or when a slot frees up)."""
        task = asyncio.create_task(self.tick())
        self._wakeups.add(task)
        task.add_done_callback(self._wakeups.discard)

    async def _advance(self, analysis: Analysis) -> None:
        status = AnalysisStatus(analysis.status)
        if status is AnalysisStatus.UPLOADING:
            await upload_source(self.step, analysis)
        elif status is AnalysisStatus.SUBMITTING:
            await submit(self.step, analysis)
        elif status is AnalysisStatus.SUBMITTED:
            await check_status(self.step, analysis)
        elif status is AnalysisStatus.FETCHING_RESULTS:
            await fetch_results(self.step, analysis)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Tick on an interval (and at once on NOTIFY) while the context is open."""
        # A tick that outlasts the interval makes APScheduler warn on every skipped run; the
        # overlap is by design (tick() guards itself), so only its errors are worth logging.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        scheduler = AsyncIOScheduler()
        for job_id, job in (("tick", self.tick), ("webhooks", self.deliver_webhooks)):
            scheduler.add_job(
                job,
                "interval",
                seconds=self.step.settings.tick_interval_s,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                id=job_id,
            )
        scheduler.start()
        listener = asyncio.create_task(self._listen())
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            scheduler.shutdown(wait=False)
            await self._drain()

    async def _drain(self) -> None:
        """Let the steps under way finish (each ends by releasing its claim), within a bound."""
        async with self._tick_lock:
            pending = set(self._steps)
            if pending:
                log.info("waiting for %d step(s) to finish", len(pending))
                _, still = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_S)
                for task in still:
                    task.cancel()
                # A cancelled step keeps its claim; the lease makes it due again elsewhere.
                await asyncio.gather(*still, return_exceptions=True)

    async def _listen(self) -> None:
        url = self.step.settings.database_url
        assert url is not None
        libpq = make_url(url.get_secret_value()).set(drivername="postgresql")
        dsn = libpq.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute("LISTEN valossa_ingest_due")
                    async for _ in conn.notifies():
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(2.0)


async def run_worker(
    settings: Settings, *, health_port: int = 8081, health_host: str = "127.0.0.1"
) -> None:
    """The worker process: tick until SIGTERM/SIGINT, serving health probes meanwhile."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_resources(settings) as resources:
        worker = Worker(resources)
        log.info("worker %s started", worker.name)
        async with contextlib.AsyncExitStack() as stack:
            if health_port:
                from service.process.health_app import create_health_app
                from service.process.serving import serve_in_background

                await stack.enter_async_context(
                    serve_in_background(
                        create_health_app(resources), host=health_host, port=health_port
                    )
                )
            await stack.enter_async_context(worker.running())
            await stop.wait()
            log.info("worker %s stopping", worker.name)
