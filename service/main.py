"""The HTTP application: create_app() is the composition root of the API process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from service.api import (
    analyses,
    callbacks,
    faces,
    health,
    media,
    media_views,
    metrics,
    search,
    ui,
    uploads,
    webhooks,
)
from service.api.auth import CmsAuthentication
from service.api.faces import IMAGE_UPLOAD_MAX_BODY
from service.api.limits import RequestBodyGuard
from service.api.media_paths import MediaIdSegments
from service.api.openapi import problem_openapi
from service.api.problems import install_error_handlers
from service.api.query_strings import Utf8QueryStrings
from service.api.retry import RetryReadsOnLostConnection
from service.resources import open_resources
from service.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the API app; its lifespan opens the database and the Valossa client."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            if settings.run_worker_in_api:
                from service.worker import Worker

                async with Worker(resources).running():
                    yield
            else:
                yield

    app = FastAPI(
        title="valossa-ingest",
        version="0.1.0",
        summary="Analyse CMS media with Valossa; keep its metadata in Postgres.",
        lifespan=lifespan,
        # A redirect would be built from the client's Host header; a wrong path is a 404.
        redirect_slashes=False,
    )
    install_error_handlers(app)
    # Outermost last: ids are routed on the raw path, bodies are guarded, then CMS clients
    # are authenticated before the app reads a byte of their body.
    app.add_middleware(Utf8QueryStrings)
    app.add_middleware(RetryReadsOnLostConnection)
    app.add_middleware(CmsAuthentication, tokens=settings.api_tokens)
    app.add_middleware(
        RequestBodyGuard,
        default=settings.max_body_bytes,
        by_prefix={
            "/callbacks/": settings.callback_max_body_bytes,
            # Training images (8 MiB) through the API and the operator page's upload form.
            "/v1/faces/": IMAGE_UPLOAD_MAX_BODY,
            "/ui/faces/": IMAGE_UPLOAD_MAX_BODY,
        },
        timeout_s=settings.http_body_timeout_s,
        # Chunks of direct uploads, streamed on to Valossa.
        routes=[uploads.CHUNK_ROUTE_LIMIT],
    )
    app.add_middleware(MediaIdSegments)
    # The reads a CMS polls first: each router passed on the way costs every request its match.
    app.include_router(media.reads)
    app.include_router(analyses.reads)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(analyses.router)
    app.include_router(media.router)
    app.include_router(media_views.router)
    app.include_router(search.router)
    app.include_router(callbacks.router)
    app.include_router(faces.router)
    app.include_router(webhooks.router)
    app.webhooks.include_router(webhooks.notifications)
    app.include_router(uploads.router)
    ui.install(app)
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    return app
