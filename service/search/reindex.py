"""`valossa-ingest reindex`: rebuild the search index from the stored results, with progress."""

from __future__ import annotations

import time
from collections.abc import Callable

from service.db import make_engine, make_sessionmaker
from service.search.indexing import NotIndexable, finished_media, reindex_media
from service.settings import Settings

#: Exit codes: all rebuilt; some media failed (each named in the output); unknown --media.
OK, SOME_FAILED, NOT_INDEXABLE = 0, 1, 2


async def run_reindex(settings: Settings, *, media: str | None, echo: Callable[[str], None]) -> int:
    """Rebuild every media's index (or one media's), one transaction per media."""
    assert settings.database_url is not None
    engine = make_engine(settings.database_url.get_secret_value(), max_connections=4)
    sessionmaker = make_sessionmaker(engine)
    try:
        targets = [media] if media is not None else await finished_media(sessionmaker)
        failed = 0
        started = time.perf_counter()
        width = len(str(len(targets)))
        for n, customer_media_id in enumerate(targets, start=1):
            prefix = f"[{n:>{width}}/{len(targets)}] {customer_media_id}"
            try:
                stats = await reindex_media(sessionmaker, customer_media_id)
            except NotIndexable as exc:
                echo(f"{prefix}: {exc}")
                if media is not None:
                    return NOT_INDEXABLE
                continue
            except Exception as exc:
                failed += 1
                echo(f"{prefix}: FAILED ({type(exc).__name__}: {exc})")
                continue
            speech = f", {stats.speech_segments} speech segments" if stats.speech_segments else ""
            echo(
                f"{prefix}: {stats.detections} detections, {stats.occurrences} occurrences"
                f"{speech} ({stats.seconds:.2f} s)"
            )
        elapsed = time.perf_counter() - started
        echo(f"reindexed {len(targets) - failed} of {len(targets)} media in {elapsed:.1f} s")
        return SOME_FAILED if failed else OK
    finally:
        await engine.dispose()
