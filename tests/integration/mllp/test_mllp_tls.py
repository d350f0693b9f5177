"""MLLP over TLS with client certificates (issue 14, item 2), over real sockets on loopback: a
peer with a certificate our CA signed is served and named in the log; one without a
certificate, with one from another CA, speaking plain MLLP or saying nothing is refused, each
with a log line giving its address and the reason, and the listener goes on serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

import pytest

from hl7_listener.framing import frame
from hl7_listener.server import MllpServer
from hl7_listener.tls import MllpTls, server_context
from tests.integration.mllp.test_mllp_server import Peer, echo, too_big
from tests.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("mllp-pki"))


async def _served(pki: Pki, *, handshake_timeout_s: float = 10.0) -> MllpServer:
    context = server_context(pki.server_cert, pki.server_key, pki.ca)
    server = MllpServer(
        echo, on_oversize=too_big, tls=MllpTls(context, handshake_timeout_s=handshake_timeout_s)
    )
    await server.start("127.0.0.1", 0)
    return server


def _client(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


async def _tls_peer(server: MllpServer, context: ssl.SSLContext) -> Peer:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=context, server_hostname="localhost"
    )
    return Peer(reader, writer)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "mllp_refused"]


async def test_a_peer_with_a_trusted_certificate_is_served_and_named(pki, caplog) -> None:
    caplog.set_level(logging.INFO, logger="cdr.hl7")
    server = await _served(pki)
    try:
        peer = await _tls_peer(server, _client(pki, pki.client_cert, pki.client_key))
        await peer.send(frame(b"MSH|hello") + frame(b"MSH|again"))
        assert await peer.replies(2) == [b"ACK:MSH|hello", b"ACK:MSH|again"]
        peer.writer.close()
        await peer.writer.wait_closed()
    finally:
        await server.close()
    opened = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "mllp_open"]
    assert len(opened) == 1 and "(TLS, CN=" in opened[0]
    assert server.refused_peers == 0


async def _refused_then_served(pki: Pki, server: MllpServer, attempt) -> None:  # type: ignore[no-untyped-def]
    await attempt()
    # The listener goes on: a trusted peer is served after the refused one.
    peer = await _tls_peer(server, _client(pki, pki.client_cert, pki.client_key))
    await peer.send(frame(b"MSH|after"))
    assert await peer.replies(1) == [b"ACK:MSH|after"]
    peer.writer.close()
    await peer.writer.wait_closed()


@pytest.mark.parametrize("who", ["no certificate", "another CA"])
async def test_a_peer_without_a_trusted_certificate_is_refused_and_logged(
    pki, caplog, who: str
) -> None:
    caplog.set_level(logging.WARNING, logger="cdr.hl7")
    server = await _served(pki)
    cert, key = (
        (None, None)
        if who == "no certificate"
        else (
            pki.rogue_client_cert,
            pki.rogue_client_key,
        )
    )

    async def attempt() -> None:
        writers: list[asyncio.StreamWriter] = []
        with pytest.raises((ssl.SSLError, ConnectionError)):
            # TLS 1.3: the client's handshake may end before the server checks its
            # certificate; the refusal then arrives on the first read.
            peer = await _tls_peer(server, _client(pki, cert, key))
            writers.append(peer.writer)
            await peer.send(frame(b"MSH|hello"))
            await peer.replies(1)
        for writer in writers:
            writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()

    try:
        await _refused_then_served(pki, server, attempt)
    finally:
        await server.close()
    assert server.refused_peers == 1
    refused = _refusals(caplog)
    assert len(refused) == 1 and "127.0.0.1" in refused[0]
    assert "TLS handshake failed" in refused[0] and "CERTIFICATE" in refused[0].upper()


async def test_plain_mllp_on_a_tls_listener_is_refused_and_logged(pki, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="cdr.hl7")
    server = await _served(pki)

    async def attempt() -> None:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"MSH|hello"))
        assert await peer.closed_by_server()
        assert peer.pending == []  # nothing was answered
        peer.writer.close()
        await peer.writer.wait_closed()

    try:
        await _refused_then_served(pki, server, attempt)
    finally:
        await server.close()
    refused = _refusals(caplog)
    assert len(refused) == 1 and "TLS handshake failed" in refused[0]


async def test_a_peer_that_says_nothing_is_closed_after_the_handshake_time(pki, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="cdr.hl7")
    server = await _served(pki, handshake_timeout_s=0.3)
    try:
        peer = await Peer.connect(server.port)
        assert await peer.closed_by_server()
        assert server.connections == 0
        peer.writer.close()
        await peer.writer.wait_closed()
    finally:
        await server.close()
    assert any("no TLS handshake within 0.3 s" in m for m in _refusals(caplog))


def test_the_same_on_uvloop_the_loop_cdr_serve_runs_on(pki, caplog) -> None:
    """uvloop implements ``start_tls`` on its own: served and refused alike there."""
    import uvloop

    caplog.set_level(logging.WARNING, logger="cdr.hl7")

    async def scenario() -> None:
        server = await _served(pki)
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                peer = await _tls_peer(server, _client(pki, None, None))
                try:
                    await peer.send(frame(b"MSH|hello"))
                    await peer.replies(1)
                finally:
                    peer.writer.close()
            trusted = await _tls_peer(server, _client(pki, pki.client_cert, pki.client_key))
            await trusted.send(frame(b"MSH|hello"))
            assert await trusted.replies(1) == [b"ACK:MSH|hello"]
            trusted.writer.close()
            await trusted.writer.wait_closed()
        finally:
            await server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())
    assert len(_refusals(caplog)) == 1
