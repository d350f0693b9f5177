"""``FastPort``: the regime port on ``FastTransport``, without httpx's request and response models.

The regime calls use none of what those models carry (auth, redirects, cookies, event hooks)
and, per call, they cost about as much CPU as the transport itself (BENCHMARKS.md): the request
is encoded here straight to bytes, the reply read straight from the parser.
"""

from __future__ import annotations

import httpx

from regimes.endpoints import RegimeEndpoint
from regimes.port import WireReply, WireRequest
from regimes.transport.encoder import check_target, encode, method_bytes
from regimes.transport.pool import FastTransport, Origin

__all__ = ["FastPort"]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


class FastPort:
    """``RegimePort`` to ``endpoint`` over ``transport`` (which it closes with itself);
    ``timeout`` as httpx's, a backstop: the lookup use case owns the time budget."""

    def __init__(
        self, transport: FastTransport, endpoint: RegimeEndpoint, timeout: httpx.Timeout
    ) -> None:
        url = httpx.URL(endpoint.url)
        self._transport = transport
        self._origin = Origin.of(url, endpoint.identity, endpoint.ssl_context)
        self._host = self._origin.host_header
        # The base URL's path, already encoded by httpx: the targets are below it.
        self._prefix = url.raw_path.rstrip(b"/")
        self._timeouts = timeout.as_dict()

    async def send(self, request: WireRequest) -> WireReply:
        """``request`` sent whole; a ``Content-Length`` is added when there is a body."""
        target, body = request.target, request.body
        check_target(target)
        method = method_bytes(request.method)
        payload = encode(
            b"%s %s%s HTTP/1.1" % (method, self._prefix, target.encode("ascii")),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
            self._host,
            body or b"",
            framed=body is not None,
        )
        idempotent = request.idempotent or request.method in _IDEMPOTENT_METHODS
        reply = await self._transport.exchange(
            self._origin, payload, self._timeouts, idempotent=idempotent
        )
        return reply

    async def aclose(self) -> None:
        await self._transport.aclose()
