"""What the API's answers mean for the flow: unreachable is the outcome "unavailable"; a
refusal is the outcome the caller names (by default "gone": the place or contact no longer
exists)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.api_client import ApiRefused, ApiUnavailable
from bot.engine.actions import Outcome


@contextmanager
def api_outcomes(refused: str | Callable[[ApiRefused], str] = "gone") -> Iterator[None]:
    try:
        yield
    except ApiUnavailable as exc:
        raise Outcome("unavailable") from exc
    except ApiRefused as exc:
        raise Outcome(refused(exc) if callable(refused) else refused) from exc
