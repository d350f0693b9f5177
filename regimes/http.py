"""What every regime client shares: mapping httpx failures and HTTP statuses to ``RegimeError``.

Adapters call ``send`` instead of the client directly, so that a foreign exception never leaves
``regimes/``: connection refused/reset and 5xx become ``RegimeUnavailable`` (transient),
timeouts ``RegimeTimeout`` (transient), other 4xx ``RegimeRejected``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable

__all__ = ["check_status", "map_transport_errors", "send"]


@contextmanager
def map_transport_errors(regime: str) -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RegimeTimeout(
            f"{regime}: no answer in time ({type(exc).__name__})", regime=regime
        ) from exc
    except httpx.TransportError as exc:
        raise RegimeUnavailable(
            f"{regime}: cannot reach the regime service ({type(exc).__name__}: {exc})",
            regime=regime,
        ) from exc


def check_status(response: httpx.Response, regime: str, *, allowed: tuple[int, ...] = ()) -> None:
    """Raise the ``RegimeError`` a non-success status stands for, unless it is ``allowed``."""
    status = response.status_code
    if status < 400 or status in allowed:
        return
    snippet = response.text[:200].strip()
    if status in (408, 504):
        raise RegimeTimeout(f"{regime}: regime service timed out (HTTP {status})", regime=regime)
    if status >= 500 or status == 429:
        raise RegimeUnavailable(
            f"{regime}: regime service error HTTP {status}: {snippet}", regime=regime
        )
    raise RegimeRejected(f"{regime}: request refused, HTTP {status}: {snippet}", regime=regime)


async def send(client: httpx.AsyncClient, request: httpx.Request, regime: str) -> httpx.Response:
    """Send ``request``, reading the whole body, with failures mapped to ``RegimeError``."""
    with map_transport_errors(regime):
        return await client.send(request)
