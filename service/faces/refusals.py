"""What a failed Training API call means for the CMS: Valossa's refusal or Valossa's absence."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from service.errors import Unavailable, Unprocessable
from service.valossa import (
    ValossaApiError,
    ValossaAuthError,
    ValossaError,
    ValossaRateLimited,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def valossa_answers(action: str, *, may_take_effect: bool = False) -> Iterator[None]:
    """Turn a Valossa error raised in the block into a 422 (Valossa refused, with its message)
    or a 503 (Valossa unavailable; nothing was recorded here).

    `may_take_effect` marks calls that are not retried (they create something): a lost answer
    may hide a success, which `valossa-ingest faces sync` brings into our records.
    """
    try:
        yield
    except ValossaAuthError:
        log.error("Valossa refused our API key while trying to %s", action)
        raise Unavailable(
            f"Valossa refused this service's API key while trying to {action}; nothing was "
            "changed (the operator must check VALOSSA_API_KEY and its faces subscription)"
        ) from None
    except ValossaApiError as exc:
        messages = list(exc.messages) or [str(exc)]
        raise Unprocessable(
            f"Valossa refused to {action}: {'; '.join(messages)}", valossa_messages=messages
        ) from None
    except ValossaError as exc:
        log.warning("could not %s: %s", action, type(exc).__name__)
        detail = f"Valossa could not be reached to {action}; nothing was recorded, retry later"
        if may_take_effect and not isinstance(exc, ValossaRateLimited):
            detail += (
                " (if Valossa did it despite the error, `valossa-ingest faces sync` records it)"
            )
        raise Unavailable(detail) from None
