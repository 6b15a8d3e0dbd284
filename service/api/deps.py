"""Request dependencies: resources, the unit-of-work session, CMS authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import Reader
from service.resources import Resources


async def get_resources(request: Request) -> Resources:
    """The process resources built by the app's lifespan (async: a plain function would cost
    every request a hop to the thread pool)."""
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the endpoint returns, rolled back on error."""
    async with resources.sessionmaker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def reader_of(request: Request) -> Reader:
    """Runs one read-only statement outside any transaction, for the hottest reads (their
    DirectRoutes solve no dependencies)."""
    reader: Reader = request.app.state.resources.reader
    return reader
