"""Lost callbacks, crashes, lost responses, several workers, dead workers, caps and storms."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from service.analyses.lifecycle import Lifecycle
from service.analyses.steps.leases import claim_backlog
from service.resources import open_resources
from tests.pipeline.conftest import UNDER_EACH_VALOSSA_BEHAVIOUR, Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
from tests.support.processes import environment, running_command
from tests.support.waiting import eventually


async def _create(stack: Stack, media_id: str, media_url: str) -> str:
    response = await stack.api.post(
        "/v1/analyses", json={"customer_media_id": media_id, "video_url": f"{media_url}/clip.mp4"}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def _events(stack: Stack, analysis_id: str) -> list[dict[str, Any]]:
    response = await stack.api.get(f"/v1/analyses/{analysis_id}/events")
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_lost_callbacks_are_covered_by_the_poller(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    await emulator.configure(callback_drop_rate=1.0)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "lost-cb", media_url)
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished"
    assert all(not cb.get("delivered") for cb in await emulator.callbacks())


async def test_duplicate_callbacks_do_no_harm(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "dup-cb", media_url)
        await wait_for_status(stack.api, analysis_id, {"finished"})
        sent = list(await emulator.callbacks())
        assert sent, "the emulator sent no callback"
        for _ in range(3):
            again = await stack.api.post(
                sent[0]["url"].replace(stack.settings.public_base_url, ""),
                json={"job_id": "x", "status": "error"},
            )
            assert again.status_code == 200
        await asyncio.sleep(0.5)
        after = (await stack.api.get(f"/v1/analyses/{analysis_id}")).json()
    assert after["status"] == "finished"
    finished_events = [e for e in await _events(stack, analysis_id) if e["to_status"] == "finished"]
    assert len([e for e in finished_events if e["from_status"] != "finished"]) == 1


@UNDER_EACH_VALOSSA_BEHAVIOUR
async def test_crash_between_new_job_and_storing_its_id_submits_once(
    stack: Stack, emulator: EmulatorHandle, media_url: str, database_url: str
) -> None:
    """A worker process is SIGKILLed after Valossa created its job and before the job id was
    committed. Another worker, once the dead one's lease ran out, adopts that job."""
    await emulator.configure(latency_ms=400)  # new_job takes long enough to step in
    env = environment(stack.settings, LEASE_S="3", VALOSSA_TIMEOUT_S="1", LOG_LEVEL="WARNING")
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with running_command("worker", "--health-port", "0", env=env) as doomed:
        analysis_id = await _create(stack, "crashy", media_url)

        async def intent_recorded() -> bool:
            row = await _row(libpq, analysis_id)
            return row["submit_attempts"] == 1

        await eventually(intent_recorded, interval=0.01)
        # Hold the row: the worker's transaction that records the job id waits on it.
        async with await psycopg.AsyncConnection.connect(libpq) as holder:
            await holder.execute("SELECT 1 FROM analyses WHERE id = %s FOR UPDATE", (analysis_id,))
            await eventually(lambda: emulator.jobs_of("crashy"))
            await asyncio.sleep(0.3)
            doomed.kill()
            doomed.wait(timeout=10)
            await holder.rollback()
    row = await _row(libpq, analysis_id)
    assert row["status"] == "submitting"
    assert row["job_id"] is None
    await emulator.configure(latency_ms=0)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "rescuer")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished"
    assert len(await emulator.jobs_of("crashy")) == 1
    reasons = [e["reason"] or "" for e in await _events(stack, analysis_id)]
    assert any("adopted" in reason for reason in reasons), reasons


async def _row(libpq: str, analysis_id: str) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(libpq, row_factory=dict_row) as conn:
        cursor = await conn.execute("SELECT * FROM analyses WHERE id = %s", (analysis_id,))
        row = await cursor.fetchone()
    assert row is not None
    return row


@UNDER_EACH_VALOSSA_BEHAVIOUR
async def test_lost_response_on_new_job_submits_once(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    await emulator.configure(lost_response_rate=1.0)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "lost-answer", media_url)

        async def job_created() -> bool:
            return (await emulator.jobs_per_media())["lost-answer"] >= 1

        await eventually(job_created)
        await asyncio.sleep(1.0)  # let the worker retry against the still-lossy API
        await emulator.configure(lost_response_rate=0.0)
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished"
    assert (await emulator.jobs_per_media())["lost-answer"] == 1


async def test_two_workers_process_each_analysis_once(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    async with contextlib.AsyncExitStack() as workers:
        # Two steps at a time each: eight analyses cannot all go to one worker.
        await stack.start_worker(workers, "w1", concurrency=2)
        await stack.start_worker(workers, "w2", concurrency=2)
        ids = [await _create(stack, f"pair-{n}", media_url) for n in range(8)]
        for analysis_id in ids:
            done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
            assert done["status"] == "finished"
    per_media = await emulator.jobs_per_media()
    assert all(per_media[f"pair-{n}"] == 1 for n in range(8))
    actors = set()
    for analysis_id in ids:
        events = await _events(stack, analysis_id)
        moves = Counter((e["from_status"], e["to_status"]) for e in events)
        assert moves[("submitting", "submitted")] == 1
        assert moves[("fetching_results", "finished")] == 1
        actors |= {e["actor"] for e in events}
    assert {"w1", "w2"} <= actors


async def test_dead_workers_claim_expires_and_another_worker_finishes(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    stack.settings.lease_s = 1.0
    analysis_id = await _create(stack, "orphan", media_url)
    async with open_resources(stack.settings) as resources:
        async with resources.sessionmaker() as session, session.begin():
            claimed = await claim_backlog(
                session,
                Lifecycle(actor="dead-worker", notify_cms=False),
                worker="dead-worker",
                max_in_flight=10,
                lease_s=1,
                submit_deadline=timedelta(hours=1),
                limit=10,
            )
        assert [str(a.id) for _, a in claimed] == [analysis_id]
    # The dead worker never comes back; a live one takes over after the lease.
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "rescuer")
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"})
    assert done["status"] == "finished"
    actors = {e["actor"] for e in await _events(stack, analysis_id)}
    assert {"dead-worker", "rescuer"} <= actors


async def test_in_flight_cap_holds_and_backlog_drains(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    cap = 2
    stack.settings.valossa_max_in_flight = cap
    await emulator.configure(speed=60.0)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        await stack.start_worker(workers, "w2")
        ids = [await _create(stack, f"cap-{n}", media_url) for n in range(3 * cap)]
        for analysis_id in ids:
            done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"}, 60)
            assert done["status"] == "finished"
    stats = await emulator.stats()
    assert stats["max_unfinished"] <= cap, stats
    assert stats["jobs_created"] == 3 * cap, stats


@UNDER_EACH_VALOSSA_BEHAVIOUR
async def test_valossa_storms_during_submission_and_polling(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    await emulator.configure(
        error_rate=0.25, throttle_rate=0.15, lost_response_rate=0.1, retry_after_s=0
    )
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        ids = [await _create(stack, f"storm-{n}", media_url) for n in range(5)]
        for analysis_id in ids:
            done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"}, 60)
            assert done["status"] == "finished", done
    per_media = await emulator.jobs_per_media()
    assert all(per_media[f"storm-{n}"] == 1 for n in range(5)), per_media


@pytest.mark.parametrize(
    "emulator", [{"list_order": "oldest", "undocumented_fields": False}], indirect=True
)
async def test_a_lost_answer_is_found_beyond_the_first_thousand_jobs(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    """1,000 older jobs and an oldest-first list: the first listing (n_jobs=1000) cannot show
    the job whose answer was lost; the whole list does, and it is adopted, not submitted again."""
    for n in range(1000):
        await emulator.new_job(f"older-{n}")
    await emulator.configure(lost_response_rate=1.0)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        analysis_id = await _create(stack, "deep", media_url)
        await eventually(lambda: emulator.jobs_of("deep"), within=60)
        await emulator.configure(lost_response_rate=0.0)
        done = await wait_for_status(stack.api, analysis_id, {"finished", "failed"}, 120)
    assert done["status"] == "finished", done
    assert len(await emulator.jobs_of("deep")) == 1
    reasons = [e["reason"] or "" for e in await _events(stack, analysis_id)]
    assert any("adopted" in reason for reason in reasons), reasons
