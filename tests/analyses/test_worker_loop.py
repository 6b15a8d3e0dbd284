"""The worker's loop: it looks for work whenever woken, even while it is looking already."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from service.analyses.lifecycle import utcnow
from service.analyses.models import Analysis
from service.analyses.states import AnalysisStatus
from service.resources import open_resources
from service.settings import Settings
from service.worker import Worker
from tests.support.emulator import EmulatorHandle
from tests.support.factories import insert_analysis
from tests.support.waiting import eventually


class CountingWorker(Worker):
    """A worker that counts its rounds; the first round is woken while it runs."""

    rounds = 0

    async def look_for_work(self) -> int:
        self.rounds += 1
        if self.rounds == 1:
            self.wake()  # e.g. a NOTIFY arrives while this round claims work
            await asyncio.sleep(0.05)
        return await super().look_for_work()


async def test_a_wake_up_during_a_round_runs_another_round(settings: Settings) -> None:
    slow_timer = settings.model_copy(update={"tick_interval_s": 3600.0})
    async with open_resources(slow_timer) as resources:
        worker = CountingWorker(resources, name="loop")
        async with worker.running():
            await eventually(lambda: worker.rounds >= 2, within=10)
            await asyncio.sleep(0.2)
    assert worker.rounds == 2  # and then it waits: nothing woke it a third time


async def test_a_wake_up_between_rounds_runs_one_at_once(settings: Settings) -> None:
    slow_timer = settings.model_copy(update={"tick_interval_s": 3600.0})
    async with open_resources(slow_timer) as resources:
        worker = CountingWorker(resources, name="loop")
        worker.rounds = 1  # no self-wake
        async with worker.running():
            await eventually(lambda: worker.rounds == 2, within=10)
            worker.wake()
            await eventually(lambda: worker.rounds == 3, within=10)


async def test_the_interval_wakes_the_loop(settings: Settings) -> None:
    fast_timer = settings.model_copy(update={"tick_interval_s": 0.1})
    async with open_resources(fast_timer) as resources:
        worker = CountingWorker(resources, name="loop")
        worker.rounds = 1
        async with worker.running():
            await eventually(lambda: worker.rounds >= 4, within=10)


async def test_a_finished_status_check_starts_the_fetch_without_waiting_for_the_interval(
    wired: Settings, emulator: EmulatorHandle
) -> None:
    """check_status releases the analysis to fetching_results, due now; the step's end wakes
    the loop, which claims the fetch at once (the interval here is an hour)."""
    job_id = await emulator.new_job("m")
    await emulator.force(job_id, "finished")
    no_timer = wired.model_copy(update={"tick_interval_s": 3600.0})
    async with open_resources(no_timer) as resources:
        row = await insert_analysis(
            resources.sessionmaker,
            status=AnalysisStatus.SUBMITTED,
            job_id=job_id,
            valossa_status="processing",
            next_attempt_at=utcnow() - timedelta(seconds=1),
        )

        async def status() -> AnalysisStatus:
            async with resources.sessionmaker() as session:
                found = await session.get(Analysis, row.id)
                assert found is not None
                return AnalysisStatus(found.status)

        async with Worker(resources, name="prompt").running():
            await eventually(lambda: _is(status, AnalysisStatus.FINISHED), within=10)


async def _is(read: Callable[[], Awaitable[AnalysisStatus]], wanted: AnalysisStatus) -> bool:
    return await read() == wanted
