"""Leases on the database clock: claim, renew, release, lose; sweeps under their lock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import make_url

from service.analyses.lifecycle import Lifecycle, utcnow
from service.analyses.models import Analysis, AnalysisEvent
from service.analyses.states import AnalysisStatus
from service.analyses.steps.leases import (
    SUBMISSION_LOCK,
    SWEEP_LOCK,
    Claim,
    LeaseLost,
    claim_backlog,
    claim_due,
    claim_row,
    database_now,
    flag_overdue,
    kept_alive,
    lock_claimed,
    release,
    renew,
)
from service.db import SessionMaker
from tests.support.factories import analysis_row, insert_analysis

PAST = timedelta(seconds=-5)
FUTURE = timedelta(hours=1)
LIFECYCLE = Lifecycle(actor="test", notify_cms=False)


async def _claim_due(
    sessionmaker: SessionMaker, *, lease_s: float = 60, limit: int = 10
) -> list[tuple[Claim, Analysis]]:
    async with sessionmaker() as session, session.begin():
        return await claim_due(session, worker="w", lease_s=lease_s, limit=limit)


async def _set(sessionmaker: SessionMaker, analysis_id: uuid.UUID, **values: object) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Analysis).where(Analysis.id == analysis_id).values(**values))


async def test_claim_due_takes_due_unleased_worked_rows_only(sessionmaker: SessionMaker) -> None:
    due = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + FUTURE
    )
    await insert_analysis(  # leased by someone else
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        next_attempt_at=utcnow() + PAST,
        claimed_by="other#1",
        claimed_until=utcnow() + FUTURE,
    )
    await insert_analysis(  # pending rows wait for a slot, not for their due time
        sessionmaker, status=AnalysisStatus.PENDING, next_attempt_at=utcnow() + PAST
    )
    await insert_analysis(
        sessionmaker, status=AnalysisStatus.FINISHED, next_attempt_at=utcnow() + PAST
    )
    claimed = await _claim_due(sessionmaker)
    assert [claim.analysis_id for claim, _ in claimed] == [due.id]
    row = await analysis_row(sessionmaker, due.id)
    claim = claimed[0][0]
    assert claim.token.startswith("w#")  # claimed_by names the worker
    assert row.claimed_by == claim.token
    assert row.claimed_until is not None
    # The lease is computed on the database clock: claimed_until = now() + lease.
    assert row.claimed_until - claim.claimed_at == timedelta(seconds=60)
    # The due time is not moved: when the lease runs out, the row is due for the next worker.
    assert row.next_attempt_at is not None
    assert row.next_attempt_at <= claim.claimed_at


async def test_an_expired_lease_is_taken_over(sessionmaker: SessionMaker) -> None:
    stale = await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.FETCHING_RESULTS,
        next_attempt_at=utcnow() + PAST,
        claimed_by="dead#1",
        claimed_until=utcnow() + PAST,
    )
    claimed = await _claim_due(sessionmaker)
    assert [claim.analysis_id for claim, _ in claimed] == [stale.id]
    assert claimed[0][0].token != "dead#1"


async def test_each_claim_has_its_own_token(sessionmaker: SessionMaker) -> None:
    for _ in range(3):
        await insert_analysis(
            sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
        )
    claimed = await _claim_due(sessionmaker)
    assert len({claim.token for claim, _ in claimed}) == 3


async def test_claim_due_respects_its_limit(sessionmaker: SessionMaker) -> None:
    for _ in range(3):
        await insert_analysis(
            sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
        )
    assert len(await _claim_due(sessionmaker, limit=2)) == 2
    assert await _claim_due(sessionmaker, limit=0) == []


async def _claim_backlog(
    sessionmaker: SessionMaker, *, cap: int, limit: int = 10
) -> set[uuid.UUID]:
    async with sessionmaker() as session, session.begin():
        claimed = await claim_backlog(
            session,
            LIFECYCLE,
            worker="w",
            max_in_flight=cap,
            lease_s=60,
            submit_deadline=timedelta(hours=1),
            limit=limit,
        )
    return {claim.analysis_id for claim, _ in claimed}


async def test_backlog_fills_only_free_slots_oldest_first(sessionmaker: SessionMaker) -> None:
    await insert_analysis(sessionmaker, customer_media_id="busy", status=AnalysisStatus.SUBMITTED)
    first = await insert_analysis(sessionmaker, customer_media_id="a")
    second = await insert_analysis(sessionmaker, customer_media_id="b")
    await insert_analysis(sessionmaker, customer_media_id="c")
    # Slots in use: the submitted one. A cap of 3 leaves two, for the two oldest.
    assert await _claim_backlog(sessionmaker, cap=3) == {first.id, second.id}
    assert await _claim_backlog(sessionmaker, cap=3) == set()


async def test_backlog_moves_to_submitting_and_leases(sessionmaker: SessionMaker) -> None:
    """Only analyses with a video_url: a source_url is downloaded first, without a slot."""
    by_url = await insert_analysis(sessionmaker, customer_media_id="a")
    by_source = await insert_analysis(
        sessionmaker, customer_media_id="b", video_url=None, source_url="https://x.example/v"
    )
    assert await _claim_backlog(sessionmaker, cap=10) == {by_url.id}
    submitting = await analysis_row(sessionmaker, by_url.id)
    assert submitting.status == AnalysisStatus.SUBMITTING
    assert submitting.claimed_by is not None
    assert submitting.deadline_at is not None
    assert (await analysis_row(sessionmaker, by_source.id)).status == AnalysisStatus.PENDING


async def test_backlog_skips_rows_not_yet_due(sessionmaker: SessionMaker) -> None:
    await insert_analysis(sessionmaker, next_attempt_at=utcnow() + FUTURE)
    assert await _claim_backlog(sessionmaker, cap=10) == set()


async def test_lock_claimed_needs_our_claim_and_a_live_row(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker)
    async with sessionmaker() as session, session.begin():
        assert await lock_claimed(session, claim) is not None
    stranger = Claim(row.id, "someone-else#9", claim.claimed_at)
    async with sessionmaker() as session, session.begin():
        assert await lock_claimed(session, stranger) is None
    await _set(sessionmaker, row.id, status=AnalysisStatus.CANCELED)
    async with sessionmaker() as session, session.begin():
        assert await lock_claimed(session, claim) is None


async def test_lock_claimed_fails_once_another_worker_took_the_row(
    sessionmaker: SessionMaker,
) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(mine, _)] = await _claim_due(sessionmaker, lease_s=0.001)
    await asyncio.sleep(0.01)
    [(theirs, _)] = await _claim_due(sessionmaker)
    assert theirs.analysis_id == row.id
    async with sessionmaker() as session, session.begin():
        assert await lock_claimed(session, mine) is None
        assert await lock_claimed(session, theirs) is not None


async def test_renew_extends_a_held_claim_only(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker, lease_s=60)
    before = (await analysis_row(sessionmaker, row.id)).claimed_until
    async with sessionmaker() as session, session.begin():
        assert await renew(session, claim, 600)
    after = (await analysis_row(sessionmaker, row.id)).claimed_until
    assert before is not None
    assert after is not None
    assert after > before
    await _set(sessionmaker, row.id, claimed_until=func.now() - timedelta(seconds=1))
    async with sessionmaker() as session, session.begin():
        assert not await renew(session, claim, 600)  # expired: another worker may have it
    await _set(sessionmaker, row.id, claimed_until=func.now() + FUTURE, claimed_by="other#1")
    async with sessionmaker() as session, session.begin():
        assert not await renew(session, claim, 600)
    await _set(sessionmaker, row.id, claimed_by=claim.token, status=AnalysisStatus.CANCELED)
    async with sessionmaker() as session, session.begin():
        assert not await renew(session, claim, 600)


async def test_release_ends_the_claim_and_schedules_on_the_database_clock(
    sessionmaker: SessionMaker,
) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker)
    async with sessionmaker() as session, session.begin():
        locked = await lock_claimed(session, claim)
        assert locked is not None
        now = await database_now(session)
        release(locked, now, delay_s=30)
    after = await analysis_row(sessionmaker, row.id)
    assert after.claimed_by is None
    assert after.claimed_until is None
    assert after.next_attempt_at == now + timedelta(seconds=30)
    async with sessionmaker() as session, session.begin():
        locked = await session.get(Analysis, row.id)
        assert locked is not None
        release(locked, now, delay_s=-5)  # never in the past of `now`
    assert (await analysis_row(sessionmaker, row.id)).next_attempt_at == now


async def test_kept_alive_renews_a_lease_during_long_work(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.UPLOADING, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker, lease_s=0.6)
    async with kept_alive(sessionmaker, claim, lease_s=0.6):
        await asyncio.sleep(1.5)  # longer than the lease: without renewals it would run out
        async with sessionmaker() as session:
            now = await session.scalar(select(func.now()))
        current = await analysis_row(sessionmaker, row.id)
        assert current.claimed_by == claim.token
        assert current.claimed_until is not None
        assert now is not None
        assert current.claimed_until > now
    assert await _claim_due(sessionmaker) == []  # still ours right after the block


async def test_kept_alive_stops_the_work_when_the_lease_is_lost(
    sessionmaker: SessionMaker,
) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.UPLOADING, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker, lease_s=0.3)
    reached_the_end = False

    async def work() -> None:
        nonlocal reached_the_end
        async with kept_alive(sessionmaker, claim, lease_s=0.3):
            await _set(sessionmaker, row.id, claimed_by="thief#1")
            await asyncio.sleep(5)
            reached_the_end = True

    with pytest.raises(LeaseLost) as lost:
        await work()
    assert not reached_the_end
    assert lost.value.claim == claim
    assert str(lost.value) == f"lease on analysis {row.id} lost"


async def test_kept_alive_lets_a_cancel_from_outside_through(sessionmaker: SessionMaker) -> None:
    await insert_analysis(
        sessionmaker, status=AnalysisStatus.UPLOADING, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker, lease_s=60)

    async def work() -> None:
        async with kept_alive(sessionmaker, claim, lease_s=60):
            await asyncio.sleep(30)

    task = asyncio.create_task(work())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_overdue_rows_are_flagged_once(sessionmaker: SessionMaker) -> None:
    late = await insert_analysis(sessionmaker, deadline_at=utcnow() + PAST)
    await insert_analysis(sessionmaker, deadline_at=utcnow() + FUTURE)
    async with sessionmaker() as session, session.begin():
        assert [a.id for a in await flag_overdue(session, LIFECYCLE)] == [late.id]
    async with sessionmaker() as session, session.begin():
        assert await flag_overdue(session, LIFECYCLE) == []
    assert (await analysis_row(sessionmaker, late.id)).overdue_since is not None


async def test_overdue_sweep_skips_while_another_replica_sweeps(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    late = await insert_analysis(sessionmaker, deadline_at=utcnow() + PAST)
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    async with await psycopg.AsyncConnection.connect(libpq) as other:
        await other.execute("SELECT pg_advisory_xact_lock(%s)", (SWEEP_LOCK,))
        async with sessionmaker() as session, session.begin():
            assert await flag_overdue(session, LIFECYCLE) == []
        await other.rollback()
    assert (await analysis_row(sessionmaker, late.id)).overdue_since is None


async def test_database_now_is_read_once_per_transaction(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    async with sessionmaker() as session:
        engine = session.bind.sync_engine  # type: ignore[union-attr]
        event.listen(engine, "before_cursor_execute", count)
        try:
            async with session.begin():
                first = await database_now(session)
                again = await database_now(session)
                assert first == again == await session.scalar(select(func.now()))
                assert len(statements) == 2  # one read, then the check of this test
            await asyncio.sleep(0.01)
            async with session.begin():
                # The next transaction has a later now(); lock_claimed returns it with the row.
                assert await lock_claimed(session, claim) is not None
                before = len(statements)
                later = await database_now(session)
                assert len(statements) == before  # taken from lock_claimed's answer
                assert later == await session.scalar(select(func.now())) > first
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert row.id == claim.analysis_id


async def test_renew_writes_the_reported_progress(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.UPLOADING, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker)
    async with sessionmaker() as session, session.begin():
        assert await renew(
            session, claim, 60, {"transfer_done_bytes": 5, "transfer_total_bytes": 9}
        )
    after = await analysis_row(sessionmaker, row.id)
    assert (after.transfer_done_bytes, after.transfer_total_bytes) == (5, 9)


async def test_a_lease_that_ends_exactly_now_is_lost(sessionmaker: SessionMaker) -> None:
    """now() is the transaction's start: a lease ending then has run out, and is not renewed."""
    row = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == row.id).values(claimed_until=func.now())
        )
        assert not await renew(session, claim, 60)


async def test_claim_row_leases_a_row_the_caller_holds(sessionmaker: SessionMaker) -> None:
    """A claim names its worker (claimed_by says who works on the row) and is its own."""
    row = await insert_analysis(sessionmaker, status=AnalysisStatus.DOWNLOADING)
    async with sessionmaker() as session, session.begin():
        locked = await session.get(Analysis, row.id, with_for_update=True)
        assert locked is not None
        now = await database_now(session)
        first = claim_row(locked, "worker:a", now, 60)
        second = claim_row(locked, "worker:a", now, 60)
    assert (first.analysis_id, first.claimed_at) == (row.id, now)
    assert first.token.startswith("worker:a#")
    assert second.token != first.token
    after = await analysis_row(sessionmaker, row.id)
    assert after.claimed_by == second.token
    assert after.claimed_until == now + timedelta(seconds=60)


# --- claim_backlog, rule by rule (issue 10: each kills mutants that survived) ------------------


async def _backlog_claims(
    sessionmaker: SessionMaker, *, cap: int, limit: int = 10, lease_s: float = 60
) -> list[tuple[Claim, Analysis]]:
    async with sessionmaker() as session, session.begin():
        return await claim_backlog(
            session,
            LIFECYCLE,
            worker="w",
            max_in_flight=cap,
            lease_s=lease_s,
            submit_deadline=timedelta(hours=1),
            limit=limit,
        )


def _libpq(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def test_backlog_claims_record_the_slot_the_worker_and_the_database_time(
    sessionmaker: SessionMaker,
) -> None:
    row = await insert_analysis(sessionmaker)
    [(claim, _)] = await _backlog_claims(sessionmaker, cap=1, limit=1)
    after = await analysis_row(sessionmaker, row.id)
    assert claim.token.startswith("w#")
    assert after.claimed_by == claim.token
    assert after.claimed_until == claim.claimed_at + timedelta(seconds=60)
    # Due at once: when this lease runs out (the worker died), claim_due takes the row over.
    assert after.next_attempt_at == claim.claimed_at
    async with sessionmaker() as session:
        reasons = list(
            await session.scalars(
                select(AnalysisEvent.reason).where(AnalysisEvent.analysis_id == row.id)
            )
        )
    assert reasons == ["a Valossa slot is free"]


async def test_a_submission_whose_worker_died_is_taken_over(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(sessionmaker)
    await _backlog_claims(sessionmaker, cap=1, lease_s=0.001)
    await asyncio.sleep(0.01)
    assert [claim.analysis_id for claim, _ in await _claim_due(sessionmaker)] == [row.id]


async def test_one_free_slot_takes_one_analysis(sessionmaker: SessionMaker) -> None:
    """Nothing in flight and a cap of 1; then one in flight and a cap of 2."""
    first = await insert_analysis(sessionmaker, customer_media_id="a")
    second = await insert_analysis(sessionmaker, customer_media_id="b")
    assert [c.analysis_id for c, _ in await _backlog_claims(sessionmaker, cap=1)] == [first.id]
    assert [c.analysis_id for c, _ in await _backlog_claims(sessionmaker, cap=2)] == [second.id]


async def test_a_limit_of_one_takes_one(sessionmaker: SessionMaker) -> None:
    await insert_analysis(sessionmaker, customer_media_id="a")
    await insert_analysis(sessionmaker, customer_media_id="b")
    assert len(await _backlog_claims(sessionmaker, cap=10, limit=1)) == 1


async def test_backlog_takes_rows_whose_due_time_has_come(sessionmaker: SessionMaker) -> None:
    """A retried pending row (next_attempt_at set) is taken once due, even exactly now."""
    past = await insert_analysis(
        sessionmaker, customer_media_id="a", next_attempt_at=utcnow() + PAST
    )
    now = await insert_analysis(
        sessionmaker, customer_media_id="b", next_attempt_at=utcnow() + FUTURE
    )
    async with sessionmaker() as session, session.begin():
        # now() is the transaction's start: the same value claim_backlog compares with.
        await session.execute(
            update(Analysis).where(Analysis.id == now.id).values(next_attempt_at=func.now())
        )
        claimed = await claim_backlog(
            session,
            LIFECYCLE,
            worker="w",
            max_in_flight=10,
            lease_s=60,
            submit_deadline=timedelta(hours=1),
            limit=10,
        )
    assert {claim.analysis_id for claim, _ in claimed} == {past.id, now.id}


async def test_one_submission_per_media_at_a_time(sessionmaker: SessionMaker) -> None:
    """A media already on its way to new_job is skipped; the next media still gets a slot."""
    await insert_analysis(sessionmaker, customer_media_id="x", status=AnalysisStatus.SUBMITTING)
    await insert_analysis(sessionmaker, customer_media_id="x")
    other = await insert_analysis(sessionmaker, customer_media_id="y")
    assert [c.analysis_id for c, _ in await _backlog_claims(sessionmaker, cap=10)] == [other.id]


async def test_two_pending_analyses_of_one_media_are_submitted_one_by_one(
    sessionmaker: SessionMaker,
) -> None:
    first = await insert_analysis(sessionmaker, customer_media_id="x")
    await insert_analysis(sessionmaker, customer_media_id="x")
    assert [c.analysis_id for c, _ in await _backlog_claims(sessionmaker, cap=10)] == [first.id]


async def test_equal_creation_times_are_taken_in_id_order(sessionmaker: SessionMaker) -> None:
    """Oldest first, ties broken by id, whatever plan Postgres picks: with an index on
    (status, created_at, id) the tie-break is free, but a sequential scan and a sort (a large
    backlog, stale statistics) would return equal rows in any order without it."""
    created = utcnow()
    await insert_analysis(
        sessionmaker, customer_media_id="a", id=uuid.UUID(int=2), created_at=created
    )
    await insert_analysis(
        sessionmaker, customer_media_id="b", id=uuid.UUID(int=1), created_at=created
    )
    async with sessionmaker() as session, session.begin():
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            await session.execute(text(f"SET LOCAL {setting} = off"))
        [(claim, _)] = await claim_backlog(
            session,
            LIFECYCLE,
            worker="w",
            max_in_flight=1,
            lease_s=60,
            submit_deadline=timedelta(hours=1),
            limit=10,
        )
    assert claim.analysis_id == uuid.UUID(int=1)


async def test_backlog_claims_serialise_on_the_submission_lock(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    """Counting the slots in use and taking one is atomic across replicas."""
    row = await insert_analysis(sessionmaker)
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as other:
        await other.execute("SELECT pg_advisory_xact_lock(%s)", (SUBMISSION_LOCK,))
        claiming = asyncio.create_task(_backlog_claims(sessionmaker, cap=10))
        await asyncio.sleep(0.3)
        assert not claiming.done()
        await other.rollback()
    assert [claim.analysis_id for claim, _ in await claiming] == [row.id]


async def test_a_worker_without_room_does_not_wait_for_the_submission_lock(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    await insert_analysis(sessionmaker)
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as other:
        await other.execute("SELECT pg_advisory_xact_lock(%s)", (SUBMISSION_LOCK,))
        claimed = await asyncio.wait_for(_backlog_claims(sessionmaker, cap=10, limit=0), 5)
        await other.rollback()
    assert claimed == []


async def test_backlog_skips_a_row_someone_else_has_locked(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    """A pending row locked elsewhere (a cancel in progress) is skipped, not waited for."""
    locked = await insert_analysis(sessionmaker, customer_media_id="a")
    free = await insert_analysis(sessionmaker, customer_media_id="b")
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as other:
        await other.execute("SELECT 1 FROM analyses WHERE id = %s FOR UPDATE", (locked.id,))
        claimed = await asyncio.wait_for(_backlog_claims(sessionmaker, cap=1), 5)
        await other.rollback()
    assert [claim.analysis_id for claim, _ in claimed] == [free.id]


async def test_backlog_locks_at_most_twice_its_free_slots(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    """Candidates are fetched (and row-locked) two per free slot, so the rest of the backlog
    stays free for others (a cancel, say) while the claim's transaction runs."""
    for n in range(6):
        await insert_analysis(sessionmaker, customer_media_id=f"m{n}")
    async with (
        await psycopg.AsyncConnection.connect(_libpq(database_url), autocommit=True) as other,
        sessionmaker() as session,
        session.begin(),
    ):
        claimed = await claim_backlog(
            session,
            LIFECYCLE,
            worker="w",
            max_in_flight=1,
            lease_s=60,
            submit_deadline=timedelta(hours=1),
            limit=10,
        )
        cursor = await other.execute(
            "SELECT count(*) FROM (SELECT 1 FROM analyses FOR UPDATE SKIP LOCKED) AS free"
        )
        row = await cursor.fetchone()
    assert len(claimed) == 1
    assert row is not None
    assert row[0] == 6 - 2


async def test_only_an_upload_or_a_submission_blocks_its_media(sessionmaker: SessionMaker) -> None:
    """A media whose earlier analysis Valossa already has (submitted) may be analysed again;
    one on its way to new_job (uploading, submitting) may not."""
    await insert_analysis(sessionmaker, customer_media_id="done", status=AnalysisStatus.SUBMITTED)
    again = await insert_analysis(sessionmaker, customer_media_id="done")
    await insert_analysis(sessionmaker, customer_media_id="up", status=AnalysisStatus.UPLOADING)
    await insert_analysis(sessionmaker, customer_media_id="up")
    assert [c.analysis_id for c, _ in await _backlog_claims(sessionmaker, cap=10)] == [again.id]


async def test_overdue_is_flagged_with_an_event_that_names_the_state(
    sessionmaker: SessionMaker,
) -> None:
    late = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, deadline_at=utcnow() + PAST
    )
    async with sessionmaker() as session, session.begin():
        await flag_overdue(session, LIFECYCLE)
    async with sessionmaker() as session:
        reasons = list(
            await session.scalars(
                select(AnalysisEvent.reason).where(AnalysisEvent.analysis_id == late.id)
            )
        )
    assert reasons == ["overdue: still submitted past its deadline"]


async def test_a_deadline_that_is_now_is_not_yet_overdue(sessionmaker: SessionMaker) -> None:
    row = await insert_analysis(sessionmaker, deadline_at=utcnow() + FUTURE)
    async with sessionmaker() as session, session.begin():
        # now() is the transaction's start: the same value flag_overdue compares with.
        await session.execute(
            update(Analysis).where(Analysis.id == row.id).values(deadline_at=func.now())
        )
        assert await flag_overdue(session, LIFECYCLE) == []


async def test_overdue_sweep_skips_a_row_someone_else_has_locked(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    busy = await insert_analysis(sessionmaker, customer_media_id="a", deadline_at=utcnow() + PAST)
    late = await insert_analysis(sessionmaker, customer_media_id="b", deadline_at=utcnow() + PAST)
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as other:
        await other.execute("SELECT 1 FROM analyses WHERE id = %s FOR UPDATE", (busy.id,))

        async def sweep() -> list[Analysis]:
            async with sessionmaker() as session, session.begin():
                return await flag_overdue(session, LIFECYCLE)

        flagged = await asyncio.wait_for(sweep(), 5)
        await other.rollback()
    assert [a.id for a in flagged] == [late.id]


async def test_claim_due_takes_the_longest_due_first(sessionmaker: SessionMaker) -> None:
    await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    oldest = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + 2 * PAST
    )
    [(claim, _)] = await _claim_due(sessionmaker, limit=1)
    assert claim.analysis_id == oldest.id


async def test_claim_due_skips_a_row_someone_else_has_locked(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    busy = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + 2 * PAST
    )
    free = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + PAST
    )
    async with await psycopg.AsyncConnection.connect(_libpq(database_url)) as other:
        await other.execute("SELECT 1 FROM analyses WHERE id = %s FOR UPDATE", (busy.id,))
        claimed = await asyncio.wait_for(_claim_due(sessionmaker), 5)
        await other.rollback()
    assert [claim.analysis_id for claim, _ in claimed] == [free.id]


async def test_claim_due_boundaries_on_the_database_clock(sessionmaker: SessionMaker) -> None:
    """now() is the transaction's start: a row due exactly then is due; a lease that ends
    exactly then is not taken over in that instant (it is in the next one)."""
    due_now = await insert_analysis(
        sessionmaker, status=AnalysisStatus.SUBMITTED, next_attempt_at=utcnow() + FUTURE
    )
    leased = await insert_analysis(
        sessionmaker,
        status=AnalysisStatus.SUBMITTED,
        next_attempt_at=utcnow() + PAST,
        claimed_by="other#1",
        claimed_until=utcnow() + FUTURE,
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Analysis).where(Analysis.id == due_now.id).values(next_attempt_at=func.now())
        )
        await session.execute(
            update(Analysis).where(Analysis.id == leased.id).values(claimed_until=func.now())
        )
        claimed = await claim_due(session, worker="w", lease_s=60, limit=10)
    assert [claim.analysis_id for claim, _ in claimed] == [due_now.id]
