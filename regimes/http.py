"""What every regime client shares: mapping transport failures and HTTP statuses to
``RegimeError``.

Each gateway extends ``HttpGateway``, which holds the injected ``RegimePort`` (regimes/port.py),
sends every call through it (``_call``) and probes health through it. Failures are mapped here,
so that a foreign exception never leaves ``regimes/``: connection refused/reset and 5xx become
``RegimeUnavailable`` (transient), timeouts ``RegimeTimeout`` (transient), 401/403
``RequesterRefused``, other 4xx ``RegimeRejected``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import httpx

from regimes.port import RegimePort, WireReply, WireRequest
from rights.catalogue import Regime
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable, RequesterRefused
from rights.model import Requester

__all__ = [
    "HttpGateway",
    "WireReply",
    "check_status",
    "expect_200",
    "map_transport_errors",
    "rejection",
    "requester_headers",
]


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


def check_status(response: WireReply, regime: str, *, allowed: tuple[int, ...] = ()) -> None:
    """Raise the ``RegimeError`` a non-success status stands for, unless it is ``allowed``."""
    status = response.status_code
    if status < 400 or status in allowed:
        return
    said = readable_reason(response)
    if status in (408, 504):
        raise RegimeTimeout(f"{regime}: regime service timed out (HTTP {status})", regime=regime)
    if status >= 500 or status == 429:
        raise RegimeUnavailable(
            f"{regime}: regime service error HTTP {status}{said}", regime=regime
        )
    raise rejection(status, f"{regime}: request refused, HTTP {status}{said}", regime)


# The fields in which the regime services' JSON error bodies say why (CNAM "libelle", the
# special regimes' "message"...), in the order they are looked for.
_REASON_FIELDS = ("libelle", "message", "detail", "erreur", "error", "code")
_REASON_LENGTH = 160


def readable_reason(response: WireReply) -> str:
    """``": <why>"`` from a JSON error body's message field, on one line of printable text and
    at most 160 characters; "" when the body says nothing readable. The raw body never goes
    further: it would reach the FHIR disposition and the HL7 ZRD, which people read, with
    whatever markup or data the regime put in it."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for field in _REASON_FIELDS:
        value = body.get(field)
        if isinstance(value, str):
            text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
            if text:
                cut = text[:_REASON_LENGTH]
                return f": {cut}…" if len(text) > _REASON_LENGTH else f": {cut}"
    return ""


def rejection(status: int, message: str, regime: str) -> RegimeRejected:
    """A 4xx refusal: 401/403 refuse who asks (CDR serves only eligible structures), any
    other the request itself. The two reach the user as different reasons."""
    if status in (401, 403):
        return RequesterRefused(message, regime=regime)
    return RegimeRejected(message, regime=regime)


def expect_200(response: WireReply, regime: str) -> None:
    """``check_status``, then refuse any other success too, for a wire whose answer is a 200."""
    check_status(response, regime)
    if response.status_code != 200:
        raise RegimeRejected(f"{regime}: unexpected HTTP {response.status_code}", regime=regime)


def requester_headers(requester: Requester) -> dict[str, str]:
    """Who asks, as every regime service expects it on each request."""
    headers = {"X-CDR-Requester-Finess": requester.finess}
    if requester.rpps:
        headers["X-CDR-Requester-Rpps"] = requester.rpps
    return headers


class HttpGateway:
    """What the ``RegimeGateway`` of every wire family holds: the injected port to its regime
    service, the request helper and the health probe.

    Timeouts and retries belong to the lookup use case, which owns the budget: the port is used
    as is.
    """

    def __init__(self, port: RegimePort) -> None:
        self._port = port

    async def health(self, regime: Regime) -> bool:
        """``GET /regimes/<code>/health`` through the port: True on 200, False on any failure."""
        probe = WireRequest("GET", f"/regimes/{quote(regime.code)}/health", _NO_HEADERS)
        try:
            reply = await self._port.send(probe)
        except Exception:  # a probe reports failure, whatever it is
            return False
        return reply.status_code == 200

    async def _call(
        self,
        method: str,
        path: str,
        regime: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> WireReply:
        """``method`` on ``path`` (below the endpoint's base URL), the whole answer read;
        transport failures mapped to ``RegimeError``. ``idempotent``: a POST that changes
        nothing at the regime, which may be sent again on a fresh connection."""
        target = quote(path, safe=_PATH_SAFE)
        if params:
            target += "?" + urlencode(params, quote_via=quote)
        with map_transport_errors(regime):
            return await self._port.send(WireRequest(method, target, headers, body, idempotent))


_NO_HEADERS: Mapping[str, str] = {}

# RFC 3986 pchar and "/": what a path may hold unescaped; "%" so that a segment the codec
# already escaped is not escaped twice.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
