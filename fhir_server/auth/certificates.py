"""Clients known by their TLS client certificate (mutual TLS, the way in for systems that
cannot do OAuth): the certificate's thumbprint, and the registered client it names.

A client is registered with the SHA-256 thumbprint of its certificate (RFC 8705 §3.1,
``x5t#S256``: base64url of the hash of the DER, no padding), not with a subject: the handshake
proved the client holds the key of *that* certificate, which its CA signed; a subject could be
given again to someone else by any CA trusted. The registry lives in the database: what it
answered is kept per process a short while, so that a request pays a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from fhir_server.auth.access_tokens import AccessGrant
from fhir_server.auth.errors import InvalidToken
from fhir_server.auth.ports import ClientRegistry
from fhir_server.auth.scopes import grants_of

__all__ = ["CertificateClients", "certificate_thumbprint", "client_certificate"]


def certificate_thumbprint(der: bytes) -> str:
    """RFC 8705 §3.1: the base64url-encoded SHA-256 of the DER certificate, without padding."""
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def client_certificate(scope: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The client certificate of the connection (PEM) and its subject, from the ASGI TLS
    extension; None over plain HTTP or when the client presented none."""
    extensions = scope.get("extensions")
    if not extensions:
        return None
    tls = extensions.get("tls")
    chain = tls.get("client_cert_chain") if tls else None
    if not chain:
        return None
    return chain[0], tls.get("client_cert_name")


class CertificateClients:
    """What a verified client certificate is granted: the scopes registered for it, as a
    token's grant; ``InvalidToken`` (401, no token) when no client is registered with it.

    Answers, found or not, are kept ``ttl_s`` per certificate (at most ``cache_size`` of them):
    a client registered or removed is seen within that time."""

    def __init__(
        self,
        registry: ClientRegistry,
        *,
        ttl_s: float = 30.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._ttl_s = ttl_s
        self._cache_size = cache_size
        self._clock = clock
        # PEM (the same string object for every request of a connection) → (until, answer).
        self._cache: dict[str, tuple[float, AccessGrant | None]] = {}

    async def grant(self, pem: str, subject: str | None) -> AccessGrant:
        now = self._clock()
        cached = self._cache.get(pem)
        if cached is None or cached[0] <= now:
            cached = (now + self._ttl_s, await self._lookup(pem))
            self._remember(pem, cached)
        grant = cached[1]
        if grant is None:
            raise InvalidToken(
                f"the client certificate ({_shown(subject)}) is not registered for any client: "
                "send a bearer token, or have the operator register the certificate",
                present=False,
            )
        return grant

    async def _lookup(self, pem: str) -> AccessGrant | None:
        thumbprint = certificate_thumbprint(ssl.PEM_cert_to_DER_cert(pem))
        client = await asyncio.to_thread(self._registry.by_certificate, thumbprint)
        if client is None:
            return None
        # A grant without expiry of its own: the cache entry's lifetime bounds it.
        return AccessGrant(client.name, grants_of(client.scopes), expires_at=float("inf"))

    def _remember(self, pem: str, entry: tuple[float, AccessGrant | None]) -> None:
        if len(self._cache) >= self._cache_size:
            now = self._clock()
            for key in [k for k, (until, _) in self._cache.items() if until <= now]:
                del self._cache[key]
            while len(self._cache) >= self._cache_size:  # all fresh: the oldest goes
                del self._cache[next(iter(self._cache))]
        self._cache[pem] = entry


def _shown(subject: str | None) -> str:
    return subject[:200] if subject else "subject unknown"
