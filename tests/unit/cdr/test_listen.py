"""The listening sockets `cdr serve` binds first: a clear error when busy, and TCP_NODELAY on
every connection asyncio accepts from them (else Nagle and the peer's delayed ACK hold each
response body behind its headers)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from cdr.serve_commands import _listen
from rights.errors import ConfigError


async def test_connections_accepted_on_our_socket_have_nodelay():
    sock = _listen("127.0.0.1", 0, "CDR_HTTP_PORT")
    port = sock.getsockname()[1]
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    async with server:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            nodelay = await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            await writer.wait_closed()
    assert nodelay != 0


def test_a_busy_port_names_the_setting():
    with _listen("127.0.0.1", 0, "CDR_HTTP_PORT") as busy:
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port} \\(CDR_SANDBOX_PORT\\)"):
            _listen("127.0.0.1", port, "CDR_SANDBOX_PORT")
