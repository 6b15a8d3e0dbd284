"""A tiny app with only the health probes, served by the worker process."""

from __future__ import annotations

from fastapi import FastAPI

from service.api import health, metrics
from service.api.problems import install_error_handlers
from service.resources import Resources


def create_health_app(resources: Resources) -> FastAPI:
    """/healthz, /readyz and /metrics over the worker's own resources."""
    app = FastAPI(
        title="valossa-ingest worker",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.resources = resources
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app
