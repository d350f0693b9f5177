"""What the portal is told by the composition root: no environment is read here."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PortalConfig", "PscConfig", "SupportContact"]


@dataclass(frozen=True, slots=True)
class SupportContact:
    phone: str
    email: str
    hours: str  # as shown, e.g. "du lundi au vendredi, de 8 h 30 à 17 h 30"


@dataclass(frozen=True, slots=True)
class PscConfig:
    """The portal as an OpenID Connect client of Pro Santé Connect (or the sandbox's
    look-alike): the discovery document is read at ``issuer``/.well-known/openid-configuration."""

    issuer: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class PortalConfig:
    session_secret: str
    idle_timeout_s: int
    https_only: bool  # the session cookie is Secure when the gateway is served over HTTPS
    structure_finess: str
    psc: PscConfig
    support: SupportContact
    # Where browsers reach the gateway, when it is not what the request says (behind a reverse
    # proxy that ends TLS): the PSC redirect URI is made from it. None: from the request.
    public_url: str | None = None
