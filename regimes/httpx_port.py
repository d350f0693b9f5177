"""``HttpxPort``: the regime port on any ``httpx.AsyncClient``.

For the tests (``httpx.MockTransport``) and for what the fast transport does not do yet (proxies,
HTTP/2): the composition root may build it with a client configured for those.
"""

from __future__ import annotations

import httpx

from regimes.endpoints import RegimeEndpoint
from regimes.port import WireReply, WireRequest

__all__ = ["HttpxPort"]


class HttpxPort:
    """``RegimePort`` to ``endpoint`` (or a base URL) through ``client``, which it closes with
    itself. The client's TLS settings apply; the endpoint's TLS context is the caller's to pass
    to the client (``verify=``)."""

    def __init__(self, client: httpx.AsyncClient, endpoint: RegimeEndpoint | str) -> None:
        url = endpoint if isinstance(endpoint, str) else endpoint.url
        self._client = client
        self._base_url = url.rstrip("/")

    async def send(self, request: WireRequest) -> WireReply:
        outgoing = self._client.build_request(
            request.method,
            self._base_url + request.target,
            content=request.body,
            headers=request.headers,
        )
        if request.idempotent:
            outgoing.extensions["idempotent"] = True  # read by FastTransport, if it is below
        response = await self._client.send(outgoing)
        return WireReply(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()
