"""Request-scoped access to the emulator state, and key checks."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from service.emulator.auth import authenticate
from service.emulator.errors import Unauthorized
from service.emulator.state import EmulatorState


def get_state(request: Request) -> EmulatorState:
    """The state the app lifespan built."""
    return cast(EmulatorState, request.app.state.emulator)


StateDep = Annotated[EmulatorState, Depends(get_state)]


def owner_of(state: EmulatorState, api_key: object) -> str:
    """The key's fingerprint, or 401 "Invalid API key"."""
    return authenticate(state.accepted_keys, api_key)


def faces_owner(state: EmulatorState, api_key: object) -> str:
    """The key's fingerprint for the Training API: 401 unless its subscription has faces."""
    owner = owner_of(state, api_key)
    if owner in state.keys_without_faces:
        # The docs: 401 when the key "lacks permission for the operation".
        raise Unauthorized(
            "This API key is not bound to a faces-enabled Valossa subscription; "
            "the Training API works only with such keys"
        )
    return owner
