"""The worker: one plain loop that claims due work in Postgres and runs each step as a task.

The loop waits for a reason to look: a NOTIFY (a callback, a new analysis), a step that
finished, the interval (APScheduler is only this timer), or stop. Then it claims what is due,
up to its free step slots, and starts the steps. The sweeps (overdue analyses, the fallback to
polling, the search backlog) run once per interval, not on every wake-up. Every replica runs
the same loop; Postgres decides who does what (steps/leases.py), so the scheduler's own job
store is never shared. CMS webhooks are sent beside it by a loop of their own
(service/webhooks/dispatcher.py), woken by the NOTIFY of a written webhook, a finished
delivery, or the interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from service.analyses.callback_trust import fall_back_to_polling
from service.analyses.lifecycle import Lifecycle
from service.analyses.models import Analysis
from service.analyses.states import STEP_FOR, Step
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import (
    DUE_CHANNEL,
    Claim,
    LeaseLost,
    claim_backlog,
    claim_due,
    flag_overdue,
    kept_alive,
)
from service.analyses.steps.outcomes import retry_later
from service.analyses.steps.reconcile import check_status, fetch_results
from service.analyses.steps.source_claims import claim_downloads, downloads_due
from service.analyses.steps.source_transfer import download_source, restart_upload
from service.analyses.steps.submission import submit
from service.resources import Resources, open_resources
from service.search.indexing import index_backlog
from service.settings import Settings
from service.webhooks.dispatcher import Dispatcher
from service.webhooks.models import DUE_CHANNEL as WEBHOOK_CHANNEL

log = logging.getLogger(__name__)

#: How many steps one worker runs at once.
CONCURRENCY = 10
#: How long a stopping worker lets its steps under way finish (Kubernetes grants 30-60 s).
SHUTDOWN_GRACE_S = 20.0

StepFunction = Callable[[StepContext, Claim, Analysis], Awaitable[None]]

#: The function that performs each step.
STEPS: dict[Step, StepFunction] = {
    Step.DOWNLOAD: download_source,
    Step.RESTART_UPLOAD: restart_upload,
    Step.SUBMIT: submit,
    Step.CHECK_STATUS: check_status,
    Step.FETCH_RESULTS: fetch_results,
}


def worker_name() -> str:
    """A name unique to this process, recorded in claims and events."""
    return f"worker:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def step_context(resources: Resources, worker: str) -> StepContext:
    """What this worker's steps are given."""
    return StepContext(
        settings=resources.settings,
        sessionmaker=resources.sessionmaker,
        valossa=resources.valossa,
        http=resources.http,
        tokens=resources.tokens,
        worker=worker,
        lifecycle=Lifecycle(actor=worker, notify_cms=bool(resources.settings.cms_webhook_url)),
    )


class Worker:
    """Claims due analyses and runs their steps, at most `concurrency` at once, and source
    downloads apart from them, at most SOURCE_DOWNLOAD_CONCURRENCY at once."""

    def __init__(
        self, resources: Resources, *, name: str | None = None, concurrency: int = CONCURRENCY
    ) -> None:
        self.ctx = step_context(resources, name or worker_name())
        self._reader = resources.reader
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        #: Deliveries have their own wake-up: a written webhook need not wait for a round of
        #: analysis claims, nor a round for a webhook.
        self._deliveries_due = asyncio.Event()
        self._steps: set[asyncio.Task[None]] = set()
        self._deliveries = Dispatcher(
            settings=resources.settings,
            sessionmaker=resources.sessionmaker,
            http=resources.http,
            metrics=resources.delivery_metrics,
            worker=self.ctx.worker,
            on_done=self._deliveries_due.set,
        )
        # Downloads of slow sources must not take the places of other steps.
        self._downloads: set[asyncio.Task[None]] = set()
        self._indexing: asyncio.Task[int] | None = None
        #: The sweeps (overdue analyses, the callback fallback) and the search backlog run at
        #: the first round and then once per interval, not on every wake-up: at a few hundred
        #: steps a minute, a sweep per finished step was most of the worker's statements. A
        #: finished fetch also asks for indexing (its analysis waits in the backlog).
        self._sweep_due = True
        self._index_due = True

    @property
    def name(self) -> str:
        return self.ctx.worker

    def wake(self) -> None:
        """Look for work at once (a NOTIFY, a finished step)."""
        self._wake.set()

    async def tick(self) -> None:
        """The interval: sweep, index the search backlog, look for work, send due webhooks
        (a retry's time has come; new webhooks wake the deliveries by NOTIFY). A coroutine, so
        that APScheduler runs it on the event loop: a plain function would run in a thread,
        where setting an asyncio.Event is not safe."""
        self._sweep_due = True
        self._index_due = True
        self._wake.set()
        self._deliveries_due.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Look for work whenever woken, until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.look_for_work()
            except Exception:
                log.exception("looking for work failed; trying again at the next wake-up")
            await _first_of(self._wake.wait(), stop.wait())

    async def look_for_work(self) -> int:
        """One round: if the interval came, flag overdue analyses and fall back to polling if
        callbacks stopped; claim due work for the free slots, start it. Returns how many steps
        were started."""
        ctx = self.ctx
        if self._sweep_due:
            self._sweep_due = False
            await self._sweep()
        free = self.concurrency - len(self._steps)
        claimed: list[tuple[Claim, Analysis]] = []
        if free <= 0 and not await self._downloads_due():
            # Every step slot is taken (often, under load, when a NOTIFY or a finished step
            # wakes the loop) and no download is due: one read in autocommit said so, where a
            # claim transaction would have taken four round trips to find nothing.
            self._index_if_due()
            return 0
        # The three claims share one transaction (and one read of now()): a round is a single
        # round trip to BEGIN and COMMIT, however many kinds of work there are. Work on jobs
        # Valossa has (status checks, results) comes before new submissions: under a backlog,
        # submissions would otherwise take every slot and nothing would finish until the
        # backlog is gone. Due work is bounded by the analyses in flight, so the backlog still
        # gets the slots it leaves.
        async with ctx.transaction() as session:
            if free > 0:
                claimed += await claim_due(
                    session, worker=self.name, lease_s=ctx.settings.lease_s, limit=free
                )
                claimed += await claim_backlog(
                    session,
                    ctx.lifecycle,
                    worker=self.name,
                    max_in_flight=ctx.settings.valossa_max_in_flight,
                    lease_s=ctx.settings.lease_s,
                    submit_deadline=timedelta(seconds=ctx.settings.submit_deadline_s),
                    limit=free - len(claimed),
                )
            downloads = await self._claim_downloads(session)
        for claim, analysis in claimed:
            self._start(self._steps, claim, analysis)
        for claim, analysis in downloads:
            self._start(self._downloads, claim, analysis)
        self._index_if_due()
        return len(claimed) + len(downloads)

    def _index_if_due(self) -> None:
        if self._index_due and (self._indexing is None or self._indexing.done()):
            # Finished analyses wait in the search backlog (queued by a trigger); index them.
            self._index_due = False
            self._indexing = asyncio.create_task(index_backlog(self.ctx.sessionmaker))

    async def _downloads_due(self) -> bool:
        """Whether the download pool has room and a download is due (one read, no transaction)."""
        if self.ctx.settings.source_download_concurrency - len(self._downloads) <= 0:
            return False
        return await downloads_due(self._reader)

    async def _sweep(self) -> None:
        ctx = self.ctx
        async with ctx.transaction() as session:
            await flag_overdue(session, ctx.lifecycle)
            if not await ctx.callback_trust.trusted(session):
                moved = await fall_back_to_polling(session)
                if moved:
                    log.warning(
                        "Valossa's callbacks are not arriving: %d analyses polled on its schedule",
                        moved,
                    )

    async def _claim_downloads(self, session: AsyncSession) -> list[tuple[Claim, Analysis]]:
        settings = self.ctx.settings
        free = settings.source_download_concurrency - len(self._downloads)
        if free <= 0:
            return []
        return await claim_downloads(
            session,
            self.ctx.lifecycle,
            worker=self.name,
            max_in_flight=settings.valossa_max_in_flight,
            lease_s=settings.lease_s,
            download_deadline=timedelta(seconds=settings.source_download_timeout_s),
            limit=free,
        )

    def _start(self, tasks: set[asyncio.Task[None]], claim: Claim, analysis: Analysis) -> None:
        task = asyncio.create_task(self._run_step(claim, analysis))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run_step(self, claim: Claim, analysis: Analysis) -> None:
        step = STEP_FOR[analysis.status]
        try:
            async with kept_alive(self.ctx.sessionmaker, claim, lease_s=self.ctx.settings.lease_s):
                await STEPS[step](self.ctx, claim, analysis)
        except LeaseLost:
            log.warning("analysis %s: %s stopped, its lease was lost", claim.analysis_id, step)
        except Exception:
            log.exception("analysis %s: %s failed; it will be retried", claim.analysis_id, step)
            with contextlib.suppress(Exception):
                await retry_later(self.ctx, claim, f"internal error in the {step} step")
        finally:
            if step is Step.FETCH_RESULTS:
                self._index_due = True  # its analysis may be in the search backlog now
            # Work is often due again at once (results after "finished"): look now.
            self.wake()

    async def _deliver(self, stop: asyncio.Event) -> None:
        """Send due webhooks whenever woken (a written webhook, a finished delivery, the
        interval), until `stop` is set."""
        while not stop.is_set():
            self._deliveries_due.clear()
            try:
                await self._deliveries.dispatch()
            except Exception:
                log.exception("claiming webhook deliveries failed; trying again when woken")
            await _first_of(self._deliveries_due.wait(), stop.wait())

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the loop, its interval timer and its LISTEN connection while the block runs."""
        stop = asyncio.Event()
        scheduler = AsyncIOScheduler()
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.ctx.settings.tick_interval_s,
            coalesce=True,
            misfire_grace_time=None,
            id="wake",
        )
        scheduler.start()
        listener = asyncio.create_task(self._listen())
        loop = asyncio.create_task(self.run(stop))
        deliveries = asyncio.create_task(self._deliver(stop))
        try:
            yield
        finally:
            stop.set()
            await loop
            await deliveries
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            scheduler.shutdown(wait=False)
            await self._drain()

    async def _drain(self) -> None:
        """Let the steps under way finish (each ends by releasing its claim), within a bound."""
        pending: set[asyncio.Task[Any]] = self._steps | self._downloads
        pending |= self._deliveries.tasks
        pending |= {task for task in (self._indexing,) if task is not None}
        if pending:
            log.info("waiting for %d step(s) to finish", len(pending))
            _, still = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_S)
            for task in still:
                task.cancel()
            # A cancelled step keeps its claim; the lease makes it due again elsewhere.
            await asyncio.gather(*still, return_exceptions=True)

    async def _listen(self) -> None:
        url = self.ctx.settings.database_url
        assert url is not None
        libpq = make_url(url.get_secret_value()).set(drivername="postgresql")
        dsn = libpq.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {DUE_CHANNEL}")
                    # A webhook row written (an analysis ended, a replay): deliver it now.
                    await conn.execute(f"LISTEN {WEBHOOK_CHANNEL}")
                    async for notify in conn.notifies():
                        if notify.channel == WEBHOOK_CHANNEL:
                            self._deliveries_due.set()
                        else:
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


async def _first_of(*waits: Awaitable[object]) -> None:
    """Return when the first of `waits` completes; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
