"""Who can reach the gateway (DESIGN §9, issue 14 item 3): with authentication off, every
listener binds loopback, or `cdr serve` refuses to start unless CDR_ALLOW_OPEN=1 says the
exposure is meant. Checked before any socket opens."""

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
        raise ConfigError(
            "CDR_AUTH=on: API and MLLP authentication is not available in this version yet; "
            "run with CDR_AUTH=off on loopback (the default)"
        )
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
