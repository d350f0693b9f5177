"""The staff portal's settings (issue 15, docs/decisions/0012-staff-portal.md): its session,
its Pro Santé Connect client, and the assistance page. A part of ``cdr.settings.Settings``,
kept apart to keep each file small."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["PortalSettings"]

# The client the embedded sandbox's PSC look-alike registers for the portal. A real PSC
# registration gives its own id and secret (CDR_PORTAL_PSC_CLIENT_ID / _SECRET).
SANDBOX_PSC_CLIENT_ID = "cdr-gateway-portal"
SANDBOX_PSC_CLIENT_SECRET = "sandbox-portal-secret"  # a demo secret of the sandbox only


class PortalSettings(BaseModel):
    # The embedded demo's Pro Santé Connect look-alike (sandbox.psc), served by `cdr serve` on
    # a listener of its own: plain HTTP on the sandbox's address, since browsers are sent to it
    # and the sandbox itself may require client certificates (the secured demo).
    sandbox_psc_port: int = Field(
        0, ge=0, le=65535, description="port of the sandbox's PSC look-alike; 0: a free one"
    )
    portal_session_key_file: Path | None = Field(
        None,
        description="secret signing the portal's session cookies; default "
        "<data_dir>/portal-session.key, made on first start",
    )
    portal_idle_timeout_s: int = Field(
        900, ge=60, le=43_200, description="a portal session idle this long must log in again"
    )
    portal_psc_issuer: str | None = Field(
        None,
        description="Pro Santé Connect issuer (its discovery document is read there); default "
        "the embedded sandbox's look-alike, http://<sandbox host>:<CDR_SANDBOX_PSC_PORT>",
    )
    portal_psc_client_id: str = SANDBOX_PSC_CLIENT_ID
    portal_psc_client_secret: str = SANDBOX_PSC_CLIENT_SECRET
    # The CPx card login: the desk's agent as the page reaches it, and the CAs (and their CRLs)
    # that card certificates must chain to. Without a CA file, PSC only; the secured demo
    # fills both from its test PKI (cdr.demo_security).
    portal_card_agent_url: str | None = Field(
        None, description="the desk's card agent; default http://127.0.0.1:<CDR_CARD_AGENT_PORT>"
    )
    portal_card_ca_file: Path | None = Field(
        None, description="CA certificates (PEM) of the CPx cards: enables the card login"
    )
    portal_card_crl_files: list[Path] = Field(
        default_factory=list, description="CRLs (PEM) of those CAs"
    )
    portal_support_phone: str = Field("01 00 00 00 00", description="assistance telephone")
    portal_support_email: str = Field(
        "assistance-cdr@example.org", description="assistance e-mail address"
    )
    portal_support_hours: str = Field(
        "du lundi au vendredi, de 8 h 30 à 17 h 30",
        description="when the assistance answers (shown as written)",
    )
