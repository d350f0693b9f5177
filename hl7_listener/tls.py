"""MLLP over TLS, the way an IHE ATNA secure node talks: the listener presents its certificate
and, when given the CAs to trust, requires one from every peer (mutual authentication).

Each accepted connection is handed to the loop with its TLS context
(``loop.connect_accepted_socket``) rather than served by a listening TLS socket, so that a
refused peer is told apart and logged with its address and the reason: a listening TLS socket
drops it without a word (asyncio and uvloop log a failed handshake in debug mode only). An
upgrade of the connection once accepted (``loop.start_tls``) would do on asyncio's loop, but
uvloop starts reading a new connection before anything can stop it, and would take the peer's
first TLS bytes for MLLP. Each handshake is bounded in time: a peer that opens a connection
and sends nothing holds nothing for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MllpTls", "TlsAcceptor", "peer_identity", "server_context"]

log = logging.getLogger("cdr.hl7")


@dataclass(frozen=True, slots=True)
class MllpTls:
    context: ssl.SSLContext
    handshake_timeout_s: float = 10.0


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


class TlsAcceptor:
    """Accepts on a listening socket and makes each connection's handshake before handing it,
    encrypted, to ``protocol_factory``'s protocol (``loop.connect_accepted_socket``): a
    refused peer is told apart, by address and reason, on the standard loop and on uvloop
    alike. ``admits(address)`` is asked before any handshake (the allow-list); ``refused``
    hears of each peer the handshake refused."""

    def __init__(
        self,
        tls: MllpTls,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        admits: Callable[[Any], bool],
        refused: Callable[[Any, str], None],
        max_handshakes: int,
        backlog: int,
    ) -> None:
        self._tls = tls
        self._factory = protocol_factory
        self._admits = admits
        self._refused = refused
        self._max_handshakes = max_handshakes
        self._backlog = backlog
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._handshakes: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, *, sock: socket.socket | None = None) -> None:
        if sock is None:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            sock = socket.create_server((host, port), family=family, backlog=self._backlog)
        sock.setblocking(False)
        self._sock = sock
        self._accepting = asyncio.get_running_loop().create_task(self._accept_loop(sock))

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the MLLP server is not listening")
        return int(self._sock.getsockname()[1])

    async def close(self) -> None:
        """Stop accepting and drop the handshakes in progress (their peers retry)."""
        tasks = [t for t in (self._accepting, *self._handshakes) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, address = await loop.sock_accept(sock)
            except OSError as exc:  # out of descriptors, for one: wait, then go on
                log.warning("MLLP accept failed (tried again): %s", exc)
                await asyncio.sleep(0.1)
                continue
            if not self._admits(address):
                connection.close()
                continue
            if len(self._handshakes) >= self._max_handshakes:
                connection.close()
                self._refused(address, f"{len(self._handshakes)} TLS handshakes in progress")
                continue
            task = loop.create_task(self._handshake(connection, address))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, connection: socket.socket, address: Any) -> None:
        loop = asyncio.get_running_loop()
        timeout_s = self._tls.handshake_timeout_s
        try:
            # Our own deadline, told apart from a peer that goes away; the loop's (later)
            # is only a backstop.
            async with asyncio.timeout(timeout_s):
                await loop.connect_accepted_socket(
                    self._factory,
                    connection,
                    ssl=self._tls.context,
                    ssl_handshake_timeout=timeout_s + 5,
                )
            return
        except TimeoutError:
            reason = f"no TLS handshake within {timeout_s:g} s"
        except ssl.SSLError as exc:
            reason = f"TLS handshake failed: {exc.reason or exc}"
        except OSError as exc:
            reason = f"connection lost during the TLS handshake: {exc or type(exc).__name__}"
        with contextlib.suppress(OSError):
            connection.close()
        self._refused(address, reason)


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
