"""Request-scoped access to the emulator state, and key checks."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from service.emulator.auth import authenticate
from service.emulator.state import EmulatorState


def get_state(request: Request) -> EmulatorState:
    """The state the app lifespan built."""
    return cast(EmulatorState, request.app.state.emulator)


StateDep = Annotated[EmulatorState, Depends(get_state)]


def owner_of(state: EmulatorState, api_key: object) -> str:
    """The key's fingerprint, or 401 "Invalid API key"."""
    return authenticate(state.accepted_keys, api_key)
