"""The regime port: how every regime gateway reaches its regime service.

``RegimePort.send`` takes a request already encoded for the wire (method, target below the
endpoint's base URL, headers, body) and returns the whole reply (status, headers, body). The
gateways depend on this port only; the composition root picks the implementation: the fast
transport (``regimes.transport.FastPort``, production) or plain httpx (``regimes.httpx_port``,
for tests and for proxies). Health probes go through the same port, so that whatever wraps the
port (``SigningPort``: the signed assertion of DESIGN §7) sees every call.

Failures are raised as httpx's exceptions by both implementations; ``regimes.http`` maps them to
the error tree in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AssertionSigner",
    "NoAssertion",
    "RegimePort",
    "SigningPort",
    "WireReply",
    "WireRequest",
    "signed_by",
]


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One request as it goes on the wire: ``target`` is the path and query below the endpoint's
    base URL, already percent-encoded. ``idempotent``: the call may be sent twice (RFC 9110
    §9.2.2) — true of GET and HEAD, and of a POST its gateway declares to change nothing."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes | None = None
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class WireReply:
    """A whole reply: status, headers (looked up by lower-case name) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class RegimePort(Protocol):
    """Sends wire requests to one regime endpoint (URL, TLS, identity fixed when it is built)."""

    async def send(self, request: WireRequest) -> WireReply: ...

    async def aclose(self) -> None: ...


class AssertionSigner(Protocol):
    """Adds to a request what proves who asks (DESIGN §7: a signed assertion naming the
    structure, the actor and the purpose); returns the request to send."""

    def sign(self, request: WireRequest) -> WireRequest: ...


class NoAssertion:
    """The signer until the card/PKI work brings assertions: every request unchanged."""

    def sign(self, request: WireRequest) -> WireRequest:
        return request


# Who signs the calls of the lookup running in this task when a person asks (attended mode:
# the card holder at the portal's desk), instead of the process's own signer; asyncio copies it
# into the tasks a lookup fans out to.
_ACTING: ContextVar[AssertionSigner | None] = ContextVar("cdr_acting_signer", default=None)


@contextmanager
def signed_by(signer: AssertionSigner) -> Iterator[None]:
    """Within this block (and the tasks it starts), regime calls are signed by ``signer``."""
    token = _ACTING.set(signer)
    try:
        yield
    finally:
        _ACTING.reset(token)


class SigningPort:
    """``port`` with ``signer`` applied to every request, health probes included: the one place
    where a signed assertion is added to the regime calls (or the acting person's, within
    ``signed_by``)."""

    def __init__(self, port: RegimePort, signer: AssertionSigner) -> None:
        self._port = port
        self._sign = signer.sign

    async def send(self, request: WireRequest) -> WireReply:
        acting = _ACTING.get()
        signed = self._sign(request) if acting is None else acting.sign(request)
        return await self._port.send(signed)

    async def aclose(self) -> None:
        await self._port.aclose()
