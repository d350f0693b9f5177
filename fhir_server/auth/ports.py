"""What the API's authentication needs from storage, implemented in ``cdr.storage``: the
registered clients, and the assertion ids already used (shared by every worker process)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rights.caller import Caller

__all__ = ["AssertionIds", "ClientRegistry", "RefusalAudit", "RegisteredClient", "peer_of"]


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A client of the API: its public keys, to ask for tokens, as a JWKS document given at
    registration (``jwks``) or at a URL fetched when needed (``jwks_url``); and/or the TLS
    client certificate it is known by (its SHA-256 thumbprint, RFC 8705 ``x5t#S256``, and
    its subject, for display). At least one of the three ways."""

    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    jwks: str | None = None
    jwks_url: str | None = None
    certificate_thumbprint: str | None = None
    certificate_subject: str | None = None


class ClientRegistry(Protocol):
    def get(self, name: str) -> RegisteredClient | None: ...

    def by_certificate(self, thumbprint: str) -> RegisteredClient | None:
        """The client registered with the certificate of SHA-256 thumbprint ``thumbprint``."""
        ...


class AssertionIds(Protocol):
    def first_use(self, client: str, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        """Record ``jti`` of ``client`` until ``expires_at``: True the first time, False when it
        was recorded before (a replayed assertion). Ids expired by ``now`` may be forgotten."""
        ...


class RefusalAudit(Protocol):
    """Records a refused request in the audit trail (``cdr.audit.Auditor.refused``): who
    (``caller``), why, which interaction it tried (``login`` for a token request), on what.
    Never raises: a refusal is answered whether or not its record could be written."""

    async def __call__(
        self, caller: Caller, reason: str, *, interaction: str | None, target: str | None = None
    ) -> None: ...


def peer_of(scope: Mapping[str, Any]) -> str | None:
    """The client's network address as the ASGI server saw it."""
    client = scope.get("client")
    return str(client[0]) if client else None
