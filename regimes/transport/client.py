"""``FastClient``: an httpx client on ``FastTransport`` that can skip httpx's models."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from regimes.transport.encoder import check_target, encode, method_bytes
from regimes.transport.parser import Reply
from regimes.transport.pool import FastTransport, Origin

__all__ = ["FastClient"]


class FastClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` on ``FastTransport`` that can also send a request without
    httpx's request and response models (``exchange``). The regime calls use none of what
    those models carry (auth, redirects, cookies, event hooks) and, per call, they cost about
    as much CPU as the transport itself (BENCHMARKS.md)."""

    def __init__(self, transport: FastTransport, *, timeout: httpx.Timeout) -> None:
        super().__init__(transport=transport, timeout=timeout, trust_env=False)
        self._fast = transport
        self._timeouts = timeout.as_dict()

    async def exchange(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        idempotent: bool = False,
    ) -> Reply:
        """``method`` ``target`` (origin-form: path and query, already encoded) with
        ``headers``; a ``Content-Length`` is added when there is a body. ``idempotent``: the
        call may be sent again on a fresh connection if a kept-alive one turns out closed."""
        check_target(target)
        start = method_bytes(method)
        payload = encode(
            b"%s %s HTTP/1.1" % (start, target.encode("latin-1")),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            origin.host_header,
            body or b"",
            framed=body is not None,
        )
        return await self._fast.exchange(
            origin, payload, self._timeouts, idempotent=idempotent or method in ("GET", "HEAD")
        )
