"""What the API's authentication needs from storage, implemented in ``cdr.storage``: the
registered clients, and the assertion ids already used (shared by every worker process)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["AssertionIds", "ClientRegistry", "RegisteredClient"]


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A client allowed to ask for tokens: its public keys as a JWKS document given at
    registration (``jwks``) or at a URL fetched when needed (``jwks_url``), one of the two."""

    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    jwks: str | None = None
    jwks_url: str | None = None


class ClientRegistry(Protocol):
    def get(self, name: str) -> RegisteredClient | None: ...


class AssertionIds(Protocol):
    def first_use(self, client: str, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        """Record ``jti`` of ``client`` until ``expires_at``: True the first time, False when it
        was recorded before (a replayed assertion). Ids expired by ``now`` may be forgotten."""
        ...
