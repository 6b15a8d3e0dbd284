"""The source_url path of an analysis: download it, wait for a Valossa slot, upload it.

Where the bytes live: the download goes to a spool file on the worker's disk
(SOURCE_SPOOL_DIR), and the same step then waits for a slot and uploads from that file. A
download must not hold a Valossa slot (a slow source would keep other media from Valossa),
and a slot must not wait on a download; doing all three in one step means the file lives
exactly as long as the claim of the step that made it, so no file is ever orphaned or has to
be found again by another worker. The price: a worker that dies after the download leaves an
`uploading` row whose bytes are gone, which goes back to `downloading` (restart_upload). The
wait for a slot renews the claim and is bounded (SOURCE_SLOT_WAIT_S); past it the file is
dropped and the analysis returns to the backlog, downloaded again once a slot is free.

Stopping: every transfer renews its claim each PROGRESS_INTERVAL_S, writing its progress
with it; a cancel or a delete ends the claim, and the renewal that notices cancels the
transfer, so a download or upload under way stops within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

from service.analyses.fetcher import Fetcher, FetchLimits, SourceRefused, SourceUnavailable
from service.analyses.models import Analysis
from service.analyses.sources import where
from service.analyses.states import AnalysisStatus
from service.analyses.steps.context import StepContext
from service.analyses.steps.leases import Claim, database_now, kept_alive, lock_claimed, release
from service.analyses.steps.outcomes import backoff_delay, describe, fail, retry_later
from service.analyses.steps.source_claims import take_slot
from service.settings import Settings
from service.valossa import ValossaApiError, ValossaAuthError, ValossaError, upload_file

#: How often a transfer renews its claim and writes its progress (a cancel stops it as fast).
PROGRESS_INTERVAL_S = 1.0


def source_fetcher(settings: Settings) -> Fetcher:
    """The fetcher of source URLs, as the settings bound it."""
    return Fetcher(
        limits=FetchLimits(
            max_bytes=settings.source_max_bytes,
            total_s=settings.source_download_timeout_s,
            min_bytes_per_s=settings.source_min_bytes_per_s,
            window_s=settings.source_throughput_window_s,
        ),
        allow_private=settings.allow_private_source_urls,
    )


class Progress:
    """Bytes moved so far in the current transfer, as the analysis's progress columns."""

    def __init__(self, total: int | None = None) -> None:
        self.done = 0
        self.total = total

    def downloaded(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total

    def uploaded(self, done: int) -> None:
        self.done = done

    def columns(self) -> dict[str, int | None]:
        return {"transfer_done_bytes": self.done, "transfer_total_bytes": self.total}


async def download_source(ctx: StepContext, claim: Claim, analysis: Analysis) -> None:
    """Download source_url to a spool file, take a Valossa slot, upload; then submit."""
    assert analysis.source_url is not None
    settings = ctx.settings
    if analysis.download_attempts > settings.source_max_attempts:
        reason = "the worker doing the download ended each time"
        await fail(ctx, claim, _gave_up(analysis, settings, reason))
        return
    with tempfile.NamedTemporaryFile(prefix="source-", dir=settings.source_spool_dir) as spool:
        progress = Progress()
        try:
            async with _watched(ctx, claim, progress):
                fetched = await source_fetcher(settings).fetch(
                    analysis.source_url, spool, on_progress=progress.downloaded
                )
        except SourceRefused as exc:
            await fail(ctx, claim, f"cannot use source_url: {exc}")
            return
        except (SourceUnavailable, OSError) as exc:
            reason = str(exc) if isinstance(exc, SourceUnavailable) else _spool_error(exc)
            if analysis.download_attempts >= settings.source_max_attempts:
                await fail(ctx, claim, _gave_up(analysis, settings, reason))
            else:
                await retry_later(ctx, claim, reason)
            return
        async with _watched(ctx, claim, progress):
            if not await _wait_for_slot(ctx, claim, analysis, fetched.size):
                await _back_to_backlog(ctx, claim)
                return
        progress = Progress(total=fetched.size)
        try:
            async with _watched(ctx, claim, progress):
                url = await upload_file(
                    ctx.valossa,
                    Path(spool.name),
                    size=fetched.size,
                    parallelism=settings.upload_parallelism,
                    on_progress=progress.uploaded,
                )
        except ValossaApiError as exc:
            if isinstance(exc, ValossaAuthError):
                await _back_to_downloading(ctx, claim, f"Valossa refused the API key ({exc})")
            else:
                messages = "; ".join(exc.messages) or str(exc)
                await fail(ctx, claim, f"Valossa refused the upload of source_url: {messages}")
            return
        except ValossaError as exc:
            await _back_to_downloading(ctx, claim, f"the upload failed: {describe(exc)}")
            return
    await _uploaded(ctx, claim, analysis, url, fetched.size)


async def restart_upload(ctx: StepContext, claim: Claim, analysis: Analysis) -> None:
    """An `uploading` analysis claimed by due time: the step that uploaded it stopped (its
    worker ended), and the downloaded file was on that worker. Give the slot back and
    download again."""
    reason = "the upload stopped before it ended (its worker stopped)"
    await _back_to_downloading(ctx, claim, reason, backoff=False)


def _watched(
    ctx: StepContext, claim: Claim, progress: Progress
) -> contextlib.AbstractAsyncContextManager[None]:
    return kept_alive(
        ctx.sessionmaker,
        claim,
        lease_s=ctx.settings.lease_s,
        every_s=PROGRESS_INTERVAL_S,
        report=progress.columns,
    )


async def _wait_for_slot(ctx: StepContext, claim: Claim, analysis: Analysis, size: int) -> bool:
    """Take a Valossa slot as soon as one is free; False after SOURCE_SLOT_WAIT_S."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + ctx.settings.source_slot_wait_s
    waited = False
    while True:
        async with ctx.transaction() as session:
            if await take_slot(
                session,
                ctx.lifecycle,
                claim,
                max_in_flight=ctx.settings.valossa_max_in_flight,
                submit_deadline=timedelta(seconds=ctx.settings.submit_deadline_s),
                size=size,
            ):
                return True
            if not waited:
                waited = True
                note = f"downloaded {size} bytes; waiting for a free Valossa slot"
                ctx.lifecycle.note(session, analysis, note)
        if loop.time() >= give_up_at:
            return False
        await asyncio.sleep(ctx.settings.tick_interval_s)


async def _back_to_backlog(ctx: StepContext, claim: Claim) -> None:
    async with ctx.transaction() as session:
        analysis = await lock_claimed(session, claim)
        if analysis is None or analysis.status is not AnalysisStatus.DOWNLOADING:
            return
        wait = ctx.settings.source_slot_wait_s
        reason = (
            f"no Valossa slot came free within {wait:.0f} s; the downloaded file is dropped "
            "and the source downloaded again once a slot is free"
        )
        ctx.lifecycle.move(session, analysis, AnalysisStatus.PENDING, reason=reason)
        analysis.download_attempts = 0
        _clear_progress(analysis)
        release(analysis, await database_now(session), delay_s=0)


async def _back_to_downloading(
    ctx: StepContext, claim: Claim, reason: str, *, backoff: bool = True
) -> None:
    """Give the slot back: the source is downloaded again (after a backoff, if it failed)."""
    async with ctx.transaction() as session:
        analysis = await lock_claimed(session, claim)
        if analysis is None or analysis.status is not AnalysisStatus.UPLOADING:
            return
        delay = 0.0
        if backoff:
            analysis.attempts += 1
            delay = backoff_delay(analysis.attempts, cap_s=ctx.settings.max_backoff_s)
        analysis.error = reason
        when = f" in {delay:.1f}s" if delay else ""
        ctx.lifecycle.move(
            session,
            analysis,
            AnalysisStatus.DOWNLOADING,
            reason=f"{reason}; downloading the source again{when}",
        )
        _clear_progress(analysis)
        release(analysis, await database_now(session), delay_s=delay)


async def _uploaded(
    ctx: StepContext, claim: Claim, analysis: Analysis, url: str, size: int
) -> None:
    assert analysis.source_url is not None
    async with ctx.transaction() as session:
        locked = await lock_claimed(session, claim)
        if locked is None or locked.status is not AnalysisStatus.UPLOADING:
            return  # canceled or deleted meanwhile: the upload is left unused at Valossa
        locked.video_url = url
        _clear_progress(locked)
        reason = f"uploaded {where(analysis.source_url)} ({size} bytes) as {url}"
        ctx.lifecycle.move(session, locked, AnalysisStatus.SUBMITTING, reason=reason)
        release(locked, await database_now(session), delay_s=0)


def _clear_progress(analysis: Analysis) -> None:
    analysis.transfer_done_bytes = None
    analysis.transfer_total_bytes = None


def _gave_up(analysis: Analysis, settings: Settings, reason: str) -> str:
    return (
        f"gave up on source_url after {analysis.download_attempts} download attempts "
        f"(SOURCE_MAX_ATTEMPTS is {settings.source_max_attempts}); the last one: {reason}"
    )


def _spool_error(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    return f"the download could not be written to the worker's disk ({what})"
