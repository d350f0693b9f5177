"""A lean HTTP/1.1 transport for httpx: an asyncio protocol and the llhttp parser
(``httptools``).

httpx's default transport (httpcore over anyio, parsing with h11) spends about a millisecond of
CPU per request on loopback, which dominated regime discovery (decision 0004). Split by concern:

- ``encoder``: a request as bytes, with h11's checks (tokens, no NUL/CR/LF in values);
- ``parser``: a response read by llhttp, with limits on its head and body and only ``chunked``
  as transfer coding;
- ``connection``: one connection as an asyncio protocol, timeouts as httpx has them;
- ``pool``: ``FastTransport``, the keep-alive pools and the retry of a stale connection;
- ``port``: ``FastPort``, the regime port (``regimes.port``) on it, skipping httpx's models.

Scope: plain HTTP/1.1 over TCP or TLS to absolute http/https URLs; no proxies, no HTTP/2, no
upgrades, no response streaming (the whole body is read before the response is returned).
Failures are raised as the httpx exceptions httpcore would raise, so ``regimes/http.py`` maps
them unchanged.
"""

from regimes.transport.parser import MAX_BODY_BYTES, MAX_HEAD_BYTES
from regimes.transport.pool import FastTransport, Origin
from regimes.transport.port import FastPort

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "FastPort", "FastTransport", "Origin"]
