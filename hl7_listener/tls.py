"""MLLP over TLS, the way an IHE ATNA secure node talks: the listener presents its certificate
and, when given the CAs to trust, requires one from every peer (mutual authentication).

The handshake is made on the accepted connection (``loop.start_tls``) rather than by the
listening socket, so that a refused peer is told apart and logged with its address and the
reason; a listening TLS socket drops such a peer without a word (asyncio and uvloop log a
failed handshake in debug mode only). Each handshake is bounded in time: a peer that opens a
connection and sends nothing holds nothing for long.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

__all__ = ["MllpTls", "peer_identity", "secure", "server_context"]


@dataclass(frozen=True, slots=True)
class MllpTls:
    context: ssl.SSLContext
    handshake_timeout_s: float = 10.0

    @property
    def requires_client_certificate(self) -> bool:
        return self.context.verify_mode == ssl.CERT_REQUIRED


def server_context(
    cert_file: Path, key_file: Path | None, client_ca_file: Path | None
) -> ssl.SSLContext:
    """TLS 1.2 or later with ``cert_file`` (its key in ``key_file``, or in the same file);
    with ``client_ca_file``, every peer must present a certificate those CAs signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def secure(
    transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol, tls: MllpTls
) -> asyncio.Transport:
    """``transport`` after a completed server-side handshake; raises ``ConnectionError`` with
    the reason when the peer is refused or goes away."""
    loop = asyncio.get_running_loop()
    try:
        # Our own deadline, so that its expiry is told apart from a peer going away; the
        # loop's (later) is only a backstop.
        async with asyncio.timeout(tls.handshake_timeout_s):
            secured = await loop.start_tls(
                cast(asyncio.WriteTransport, transport),
                protocol,
                tls.context,
                server_side=True,
                ssl_handshake_timeout=tls.handshake_timeout_s + 5,
            )
    except TimeoutError as exc:
        raise ConnectionError(f"no TLS handshake within {tls.handshake_timeout_s:g} s") from exc
    except ssl.SSLError as exc:
        raise ConnectionError(f"TLS handshake failed: {exc.reason or exc}") from exc
    except OSError as exc:
        raise ConnectionError(f"connection lost during the TLS handshake: {exc}") from exc
    if secured is None:
        raise ConnectionError("connection closed during the TLS handshake")
    return secured


def peer_identity(transport: asyncio.BaseTransport) -> str:
    """The subject of the peer's certificate (its CN and O), or "" without one."""
    certificate: Any = transport.get_extra_info("peercert")
    if not certificate:
        return ""
    names = {key: value for rdn in certificate.get("subject", ()) for key, value in rdn}
    return ", ".join(
        f"{label}={names[key]}"
        for key, label in (("commonName", "CN"), ("organizationName", "O"))
        if key in names
    )
