"""A route for the hottest reads, answered without FastAPI's generic per-request machinery.

`GET /v1/media/{id}` and `GET /v1/analyses/{id}` are what a CMS polls. For them FastAPI's
request handling cost more CPU than the endpoint's own work but its one statement: solving
dependencies parses the query string and walks every kind of parameter even for a route with
one path parameter, and the answer the endpoint built is validated again before it is
serialized. A `DirectRoute` keeps everything FastAPI derives from the endpoint's signature (the
OpenAPI operation, the path parameters with their validators, the response model) and at
request time only validates the path parameters, as FastAPI does and with the same 422 problem,
calls the endpoint, and serializes the model it returns.

It takes path parameters and the `Request` only: anything else (a query, a header, a body, a
dependency) is refused when the route is built, so nothing declared is silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response


class DirectRoute(APIRoute):
    """An `APIRoute` whose endpoint takes path parameters (and the `Request`) and returns the
    response model (see the module's docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        unsupported = [
            f.name
            for f in (
                *dependant.query_params,
                *dependant.header_params,
                *dependant.cookie_params,
                *dependant.body_params,
            )
        ] + [d.call.__name__ if d.call else "?" for d in dependant.dependencies]
        if unsupported or self.response_model is None or self.methods != {"GET"}:
            raise TypeError(
                f"a DirectRoute serves a GET from path parameters and returns its response "
                f"model; {path} declares {unsupported or 'no response model or another method'}"
            )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        path_fields = [(field, field.alias) for field in self.dependant.path_params]
        request_name = self.dependant.request_param_name
        serializer = TypeAdapter(self.response_model).serializer
        status_code = self.status_code or 200

        async def handle(request: Request) -> Response:
            values: dict[str, Any] = {}
            errors: list[Any] = []
            for field, alias in path_fields:
                value, field_errors = field.validate(
                    request.path_params[alias], values, loc=("path", alias)
                )
                if field_errors:
                    errors.extend(field_errors)
                else:
                    values[field.name] = value
            if errors:
                raise RequestValidationError(errors)
            if request_name is not None:
                values[request_name] = request
            answer = await endpoint(**values)
            return Response(
                serializer.to_json(answer), status_code=status_code, media_type="application/json"
            )

        return handle
