"""Operator endpoints that take no token (``/metrics``) answered to loopback clients only,
when the API is open to the network behind tokens (``CDR_AUTH=on``): exposing something
unauthenticated beyond loopback takes ``CDR_ALLOW_OPEN=1``, the rule every listener follows
(DESIGN §9). A Prometheus on another host scrapes through a local agent, or the operator sets
that flag knowingly."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.auth.ports import RefusalAudit
from rights.caller import Caller, Entry

__all__ = ["LoopbackOnly"]

log = logging.getLogger("cdr.fhir")

_REFUSAL = (
    b"served to loopback clients only while CDR_AUTH=on (CDR_ALLOW_OPEN=1 serves it to anyone)\n"
)


class LoopbackOnly:
    """``audit``: each refusal recorded in the audit trail before it is answered."""

    def __init__(
        self, app: ASGIApp, *, paths: Iterable[str], audit: RefusalAudit | None = None
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else ""
        if _is_loopback(host):
            await self.app(scope, receive, send)
            return
        log.warning(
            "%s refused to %s: not a loopback client", scope["path"], host or "an unknown peer"
        )
        if self.audit is not None:
            await self.audit(
                Caller(Entry.FHIR, "", host or None),
                f"{scope['path']} is served to loopback clients only while CDR_AUTH=on",
                interaction="read",
                target=f"{scope['method']} {scope['path']}",
            )
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(_REFUSAL)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSAL})


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
