"""DirectRoute (the hottest reads) answers what FastAPI's own route answers, and refuses what it
would not honour."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from pydantic import AfterValidator, BaseModel

from service.api.direct_route import DirectRoute
from service.api.media_paths import MediaIdPath
from service.api.problems import install_error_handlers


class Colour(enum.StrEnum):
    RED = "red"


class Answer(BaseModel):
    id: uuid.UUID
    name: str
    colour: Colour
    at: datetime
    count: int
    nothing: str | None
    nested: dict[str, list[int]]


def _shout(value: str) -> str:
    if value == "quiet":
        raise ValueError("must not be quiet")
    return value.upper()


Shouted = Annotated[str, Path(min_length=2), AfterValidator(_shout)]


async def _answer(item_id: uuid.UUID, name: Shouted, request: Request) -> Answer:
    return Answer(
        id=item_id,
        name=name,
        colour=Colour.RED,
        at=datetime(2026, 11, 26, 6, 0, 0, 123456, tzinfo=UTC),
        count=len(request.method),  # the request is passed
        nothing=None,
        nested={"ä": [1, 2]},
    )


def _app() -> FastAPI:
    """The same endpoint behind FastAPI's own route and behind a DirectRoute."""
    app = FastAPI()
    install_error_handlers(app)
    plain = APIRouter(prefix="/plain")
    direct = APIRouter(prefix="/direct", route_class=DirectRoute)
    plain.get("/{item_id}/{name}")(_answer)
    direct.get("/{item_id}/{name}")(_answer)
    app.include_router(plain)
    app.include_router(direct)
    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    "tail",
    [
        f"{uuid.UUID(int=7)}/ab",  # valid
        "not-a-uuid/ab",  # a type error
        f"{uuid.UUID(int=7)}/a",  # a constraint of Path()
        f"{uuid.UUID(int=7)}/quiet",  # an AfterValidator's ValueError
        "not-a-uuid/quiet",  # two errors at once
    ],
)
async def test_answers_are_those_of_fastapis_own_route(
    client: httpx.AsyncClient, tail: str
) -> None:
    plain = await client.get(f"/plain/{tail}")
    direct = await client.get(f"/direct/{tail}")
    assert direct.status_code == plain.status_code
    assert direct.headers["content-type"] == plain.headers["content-type"]
    if plain.status_code == 200:
        assert direct.content == plain.content
        assert direct.json()["count"] == 3
    else:
        assert plain.status_code == 422
        assert direct.json()["errors"] == plain.json()["errors"]
        assert direct.json()["detail"] == plain.json()["detail"]


async def _with_query(item_id: str, q: Annotated[str, Query()]) -> Answer:
    raise AssertionError("never called")


async def _with_header(item_id: str, x_token: Annotated[str, Header()]) -> Answer:
    raise AssertionError("never called")


async def _with_body(item_id: str, body: Answer) -> Answer:
    raise AssertionError("never called")


async def _user() -> str:
    return "someone"


async def _with_dependency(item_id: str, user: Annotated[str, Depends(_user)]) -> Answer:
    raise AssertionError("never called")


async def _without_model(item_id: str) -> dict[str, str]:
    return {}


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [
        (_with_query, "GET"),
        (_with_header, "GET"),
        (_with_body, "POST"),
        (_with_dependency, "GET"),
        (_answer, "POST"),
    ],
)
def test_what_it_would_not_honour_is_refused_when_the_route_is_built(
    endpoint: Callable[..., Any], method: str
) -> None:
    router = APIRouter(route_class=DirectRoute)
    with pytest.raises(TypeError, match="DirectRoute"):
        router.add_api_route("/{item_id}/{name}", endpoint, methods=[method])


def test_a_route_without_a_response_model_is_refused() -> None:
    router = APIRouter(route_class=DirectRoute)
    with pytest.raises(TypeError, match="DirectRoute"):
        router.add_api_route("/{item_id}", _without_model, methods=["GET"], response_model=None)


def test_the_media_id_parameter_is_documented_as_on_any_route() -> None:
    app = FastAPI()
    direct = APIRouter(route_class=DirectRoute)

    @direct.get("/v1/media/{customer_media_id}")
    async def read(customer_media_id: MediaIdPath) -> Answer:
        raise AssertionError("never called")

    app.include_router(direct)
    (parameter,) = app.openapi()["paths"]["/v1/media/{customer_media_id}"]["get"]["parameters"]
    assert parameter["in"] == "path"
    assert parameter["schema"]["maxLength"] == 1024
    assert "Answer" in app.openapi()["components"]["schemas"]
