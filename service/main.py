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
)
from service.api.faces import IMAGE_UPLOAD_MAX_BODY
from service.api.limits import CALLBACK_MAX_BODY, BodySizeLimit
from service.errors import install_error_handlers
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
    )
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        by_prefix={
            "/callbacks/": CALLBACK_MAX_BODY,
            # Training images (8 MiB) through the API and the operator page's upload form.
            "/v1/faces/": IMAGE_UPLOAD_MAX_BODY,
            "/ui/faces/": IMAGE_UPLOAD_MAX_BODY,
        },
        # Chunks of direct uploads, streamed on to Valossa.
        routes=[uploads.CHUNK_ROUTE_LIMIT],
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(analyses.router)
    app.include_router(media.router)
    app.include_router(media_views.router)
    app.include_router(search.router)
    app.include_router(callbacks.router)
    app.include_router(faces.router)
    app.include_router(uploads.router)
    ui.install(app)
    return app
