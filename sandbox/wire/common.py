"""What the sandbox wire modules share: the routes of one family, a refused request, ISO days.

Only the sandbox's own plumbing: reading and rendering each wire stays in its module and never
borrows the adapters' helpers (``regimes.payload``), so that the round-trip tests compare two
independent readings of each spec.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rights.catalogue import Regime
from sandbox.directory import Directory

__all__ = ["ISO_DAY", "BadRequest", "Endpoint", "family_routes", "iso_day"]

Endpoint = Callable[[Request], Awaitable[Response]]

ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def family_routes(
    regimes: Sequence[Regime],
    directory: Directory,
    endpoint: Callable[[Regime, Directory], Endpoint],
    *,
    family: str,
    method: str,
    path: str,
    name: str | None = None,
) -> list[BaseRoute]:
    """``method path`` for each regime of ``family``; regimes of other families are left to their
    wire. ``{code}`` in ``path`` and ``name`` stands for the regime code."""
    return [
        Route(
            path.format(code=regime.code),
            endpoint(regime, directory),
            methods=[method],
            name=None if name is None else name.format(code=regime.code),
        )
        for regime in regimes
        if regime.family == family
    ]


class BadRequest(Exception):
    """The request is refused: the wire's error ``code``, the ``field`` at fault, a ``label``."""

    def __init__(self, code: str, field: str, label: str) -> None:
        super().__init__(label)
        self.code = code
        self.field = field
        self.label = label


def iso_day(value: object) -> date | None:
    """The day in a ``YYYY-MM-DD`` string, or None when ``value`` is not one."""
    if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
        # fromisoformat alone also takes 20240101 and week dates.
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
