"""What every regime client shares: mapping httpx failures and HTTP statuses to ``RegimeError``.

Adapters call ``send`` instead of the client directly, so that a foreign exception never leaves
``regimes/``: connection refused/reset and 5xx become ``RegimeUnavailable`` (transient),
timeouts ``RegimeTimeout`` (transient), 401/403 ``RequesterRefused``, other 4xx
``RegimeRejected``. Each gateway extends ``HttpGateway``, which holds the injected client and base
URL and probes health.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import httpx

from regimes.transport import FastClient, Origin, Reply
from rights.catalogue import Regime
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable, RequesterRefused
from rights.model import Requester

__all__ = [
    "HttpGateway",
    "Reply",
    "check_status",
    "expect_200",
    "map_transport_errors",
    "probe_health",
    "rejection",
    "requester_headers",
    "send",
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


def check_status(response: Reply, regime: str, *, allowed: tuple[int, ...] = ()) -> None:
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
    raise rejection(status, f"{regime}: request refused, HTTP {status}: {snippet}", regime)


def rejection(status: int, message: str, regime: str) -> RegimeRejected:
    """A 4xx refusal: 401/403 refuse who asks (CDR serves only eligible structures), any
    other the request itself. The two reach the user as different reasons."""
    if status in (401, 403):
        return RequesterRefused(message, regime=regime)
    return RegimeRejected(message, regime=regime)


def expect_200(response: Reply, regime: str) -> None:
    """``check_status``, then refuse any other success too, for a wire whose answer is a 200."""
    check_status(response, regime)
    if response.status_code != 200:
        raise RegimeRejected(f"{regime}: unexpected HTTP {response.status_code}", regime=regime)


async def send(client: httpx.AsyncClient, request: httpx.Request, regime: str) -> httpx.Response:
    """Send ``request``, reading the whole body, with failures mapped to ``RegimeError``."""
    with map_transport_errors(regime):
        return await client.send(request)


def requester_headers(requester: Requester) -> dict[str, str]:
    """Who asks, as every regime service expects it on each request."""
    headers = {"X-CDR-Requester-Finess": requester.finess}
    if requester.rpps:
        headers["X-CDR-Requester-Rpps"] = requester.rpps
    return headers


async def probe_health(client: httpx.AsyncClient, base_url: str, regime: str) -> bool:
    """``GET {base_url}/regimes/{regime}/health``: True on 200, False on any failure."""
    try:
        response = await client.get(f"{base_url}/regimes/{regime}/health")
    except Exception:  # a probe reports failure, whatever it is
        return False
    return response.status_code == 200


class HttpGateway:
    """What the ``RegimeGateway`` of every wire family holds: the injected client, the base URL of
    the regime services, the request helper and the health probe.

    Timeouts and retries belong to the lookup use case, which owns the budget: the injected client
    is used as is.
    """

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        url = httpx.URL(self._base_url)
        self._prefix = url.raw_path.decode("ascii").rstrip("/")
        # The composition root injects a FastClient; tests may inject any httpx client.
        self._fast = (client, Origin.of(url)) if isinstance(client, FastClient) else None

    async def health(self, regime: Regime) -> bool:
        return await probe_health(self._client, self._base_url, regime.code)

    async def _call(
        self,
        method: str,
        path: str,
        regime: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """``method`` on ``path`` (below the base URL), the whole answer read; transport
        failures mapped to ``RegimeError`` (``send``)."""
        if self._fast is None:
            request = self._client.build_request(
                method, self._base_url + path, params=params, content=body, headers=headers
            )
            response = await send(self._client, request, regime)
            return Reply(response.status_code, response.headers, response.content)
        target = quote(self._prefix + path, safe=_PATH_SAFE)
        if params:
            target += "?" + urlencode(params, quote_via=quote)
        fast, origin = self._fast
        with map_transport_errors(regime):
            return await fast.exchange(origin, method, target, headers, body)


# RFC 3986 pchar and "/": what a path may hold unescaped; "%" so that a segment the codec
# already escaped is not escaped twice.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
