"""What a process needs at run time, built once by its composition root and closed at exit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from service.analyses.tokens import CallbackTokens
from service.db import Reader, SessionMaker, make_engine, make_sessionmaker
from service.migrate import head_revisions
from service.settings import Settings, SettingsError
from service.valossa import RetryPolicy, ValossaClient, make_http_client
from service.webhooks.metrics import DeliveryMetrics

#: In-call retries stay short: the worker's own per-analysis backoff handles long outages.
WORKER_RETRY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=2.0, max_total=10.0)


@dataclass
class Resources:
    """Settings, database, HTTP clients and the Valossa client of one process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    #: One read-only statement outside a transaction, for the hottest reads.
    reader: Reader
    expected_revisions: set[str]
    valossa: ValossaClient
    #: For our own outbound calls (CMS webhooks, fetching upload sources); not Valossa's pool.
    http: httpx.AsyncClient
    tokens: CallbackTokens
    #: This process's own metrics (counters, histograms), served with the database's gauges.
    registry: CollectorRegistry
    delivery_metrics: DeliveryMetrics


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, *, valossa_transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Resources]:
    """Build the process's resources from settings and dispose of them on exit."""
    if settings.database_url is None:
        raise SettingsError("DATABASE_URL is not set")
    engine = make_engine(settings.database_url.get_secret_value())
    valossa_http = make_http_client(
        read_timeout=settings.valossa_timeout_s,
        write_timeout=settings.valossa_timeout_s,
        max_connections=settings.valossa_max_connections,
        transport=valossa_transport,
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False)
    api_key = settings.valossa_api_key or ""
    secret = settings.callback_signing_secret
    registry = CollectorRegistry()
    reader = Reader(engine)
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            reader=reader,
            expected_revisions=head_revisions(),
            valossa=ValossaClient(
                valossa_http,
                api_key=api_key,
                base_url=settings.valossa_base_url,
                retry=WORKER_RETRY,
            ),
            http=http,
            tokens=CallbackTokens(secret.get_secret_value() if secret else ""),
            registry=registry,
            delivery_metrics=DeliveryMetrics(registry),
        )
    finally:
        await valossa_http.aclose()
        await http.aclose()
        await reader.close()
        await engine.dispose()
