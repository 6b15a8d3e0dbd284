"""A tiny app with only the health probes, served by the worker process."""

from __future__ import annotations

from fastapi import FastAPI

from service.api import health
from service.resources import Resources


def create_health_app(resources: Resources) -> FastAPI:
    """/healthz and /readyz over the worker's own resources."""
    app = FastAPI(title="valossa-ingest worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.resources = resources
    app.include_router(health.router)
    return app
