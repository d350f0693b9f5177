"""The MLLP allow-list (issue 14, item 2): a peer outside CDR_MLLP_ALLOWED_PEERS is closed at
once, with a log line saying why; an allowed one is served. Over real sockets."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from hl7_listener.framing import frame
from hl7_listener.server import MllpServer
from tests.integration.mllp.test_mllp_server import Peer, echo, too_big


async def _served(networks: list[str]) -> MllpServer:
    server = MllpServer(
        echo,
        on_oversize=too_big,
        allowed_peers=[ipaddress.ip_network(n, strict=False) for n in networks],
    )
    await server.start("127.0.0.1", 0)
    return server


@pytest.mark.parametrize("networks", [[], ["127.0.0.0/8"], ["10.0.0.0/8", "127.0.0.1"]])
async def test_an_allowed_peer_is_served(networks: list[str]) -> None:
    server = await _served(networks)
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"MSH|hello"))
        assert await peer.replies(1) == [b"ACK:MSH|hello"]
        peer.writer.close()
        await peer.writer.wait_closed()
    finally:
        await server.close()
    assert server.refused_peers == 0


async def test_a_peer_outside_the_list_is_closed_and_logged(caplog) -> None:
    server = await _served(["10.0.0.0/8", "::1"])
    caplog.set_level(logging.WARNING, logger="cdr.hl7")
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"MSH|hello"))
        assert await peer.closed_by_server()
        assert peer.pending == []  # nothing was answered
        peer.writer.close()
        await peer.writer.wait_closed()
    finally:
        await server.close()
    assert server.refused_peers == 1
    refused = [r for r in caplog.records if getattr(r, "event", None) == "mllp_refused"]
    assert refused and "127.0.0.1" in refused[0].getMessage()
    assert "CDR_MLLP_ALLOWED_PEERS" in refused[0].getMessage()
