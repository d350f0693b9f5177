"""Who can reach the gateway (DESIGN §9, issue 14 item 3): with authentication off, every
listener binds loopback, or `cdr serve` refuses to start unless CDR_ALLOW_OPEN=1 says the
exposure is meant. With it on, the FHIR API asks every client for a token; the MLLP listener
(HL7 peers hold no token) open to the network must name its peers (CDR_MLLP_ALLOWED_PEERS),
and the embedded sandbox, which authenticates nobody, keeps the rule of loopback. Checked
before any socket opens."""

from __future__ import annotations

import ipaddress

from cdr.settings import Settings
from rights.errors import ConfigError

__all__ = ["check_exposure", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_exposure(settings: Settings) -> str:
    """The one line to log about authentication, or a ``ConfigError`` refusing the start."""
    if settings.auth == "on":
        return _check_with_auth(settings)
    listeners = {
        "CDR_HTTP_HOST": settings.http_host,
        "CDR_MLLP_HOST": settings.mllp_host,
    }
    if settings.uses_embedded_sandbox:
        listeners["CDR_SANDBOX_HOST"] = settings.sandbox_host
    exposed = {name: host for name, host in listeners.items() if not is_loopback(host)}
    if not exposed:
        return "authentication is off: every listener binds loopback only"
    shown = ", ".join(f"{name}={host}" for name, host in exposed.items())
    if not settings.allow_open:
        raise ConfigError(
            f"authentication is off and {shown} is not loopback: anyone who reaches it could "
            "read anyone's rights; bind 127.0.0.1, or set CDR_ALLOW_OPEN=1 if that is meant"
        )
    return f"authentication is off and {shown} is not loopback (CDR_ALLOW_OPEN=1)"


def _check_with_auth(settings: Settings) -> str:
    listeners: dict[str, str] = {}
    if not settings.mllp_allowed_peers:
        listeners["CDR_MLLP_HOST"] = settings.mllp_host
    if settings.uses_embedded_sandbox:
        listeners["CDR_SANDBOX_HOST"] = settings.sandbox_host
    exposed = {name: host for name, host in listeners.items() if not is_loopback(host)}
    line = "authentication is on: the FHIR API asks for SMART Backend Services tokens"
    if not exposed:
        return line
    shown = ", ".join(f"{name}={host}" for name, host in exposed.items())
    if not settings.allow_open:
        raise ConfigError(
            f"authentication is on for the FHIR API, but {shown} is not loopback and "
            "authenticates nobody: set CDR_MLLP_ALLOWED_PEERS (MLLP), bind 127.0.0.1, or set "
            "CDR_ALLOW_OPEN=1 if that is meant"
        )
    return f"{line}; {shown} is not loopback (CDR_ALLOW_OPEN=1)"
