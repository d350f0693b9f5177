"""FastPort: the regime port on FastTransport, against loopback servers sending exact bytes."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpx
import pytest

from regimes.endpoints import RegimeEndpoint
from regimes.port import WireRequest
from regimes.transport import FastPort, FastTransport, Origin
from tests.unit.regimes.transport.loopback import OK, Server, answering, send, serving


async def test_send_writes_exactly_the_request_and_reads_the_whole_answer() -> None:
    raw = (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n"
        b"X-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    async with serving(answering(raw)) as server, FastTransport() as transport:
        reply = await send(
            transport,
            server.url,
            "POST",
            "/r/cnam?x=a%20b",
            {"Content-Type": "application/json"},
            b"{}",
        )
        await send(transport, server.url, "GET", "/plain", {"Accept": "application/json"})
    host = server.url.removeprefix("http://").encode()
    assert server.requests == [
        b"POST /r/cnam?x=a%20b HTTP/1.1\r\nContent-Type: application/json\r\nHost: "
        + host
        + b"\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /plain HTTP/1.1\r\nAccept: application/json\r\nHost: " + host + b"\r\n\r\n",
    ]
    assert server.connections == 1  # kept alive between the two
    assert reply.status_code == 404
    assert reply.content == b"abc"
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers["x-a"] == "1, 2"


async def test_targets_are_below_the_endpoint_base_path() -> None:
    async with serving(answering(OK)) as server, FastTransport() as transport:
        await send(transport, f"{server.url}/cdr/v2/", "GET", "/regimes/cnam/health")
    assert server.requests[0].startswith(b"GET /cdr/v2/regimes/cnam/health HTTP/1.1\r\n")


async def test_send_refuses_a_line_break_in_a_header() -> None:
    async with serving(answering(OK)) as server, FastTransport() as transport:
        with pytest.raises(httpx.LocalProtocolError):
            await send(transport, server.url, "GET", "/", {"X-Finess": "1\r\nX-Evil: 1"})
    assert server.requests == []


async def test_send_failures_are_the_httpx_ones() -> None:
    async def silent(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        await reader.read()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    timeout = httpx.Timeout(5, read=0.05)
    async with FastTransport() as transport:
        with pytest.raises(httpx.ConnectError):
            await send(transport, f"http://127.0.0.1:{port}", timeout=timeout)
        async with serving(silent) as server:
            with pytest.raises(httpx.ReadTimeout):
                await send(transport, server.url, timeout=timeout)


def dropping_the_second_request():
    """Answers once, then drops the next request on that connection unanswered (a keep-alive
    timeout racing the request); later connections answer."""

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if server.connections == 1:
            await server.read_request(reader)
            writer.write(OK)
            await server.read_request(reader)
        else:
            await answering(OK)(server, reader, writer)

    return handler


@pytest.mark.parametrize(
    ("method", "idempotent", "resent"),
    [("GET", False, True), ("POST", False, False), ("POST", True, True)],
    ids=["get", "post", "post-declared-idempotent"],
)
async def test_only_idempotent_calls_are_resent_after_a_stale_connection(
    method: str, idempotent: bool, resent: bool
) -> None:
    async with serving(dropping_the_second_request()) as server, FastTransport() as transport:
        await send(transport, server.url)
        call = send(transport, server.url, method, "/again", idempotent=idempotent)
        if resent:
            assert (await call).content == b"ok"
        else:
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await call
    assert server.connections == (2 if resent else 1)
    assert sum(b"/again" in request for request in server.requests) == (2 if resent else 1)


async def test_a_connection_opened_for_one_identity_is_never_used_for_another() -> None:
    async with serving(answering(OK)) as server, FastTransport() as transport:
        ports = {
            name: FastPort(transport, RegimeEndpoint(server.url, identity=name), httpx.Timeout(5))
            for name in ("sha256:aa", "sha256:bb")
        }
        for _ in range(3):
            for port in ports.values():
                assert (await port.send(WireRequest("GET", "/", {}))).content == b"ok"
        # The same identity again, through another port: it finds its own connection.
        again = FastPort(
            transport, RegimeEndpoint(server.url, identity="sha256:aa"), httpx.Timeout(5)
        )
        await again.send(WireRequest("GET", "/", {}))
    assert server.connections == 2  # one per identity, each kept alive
    assert len(server.requests) == 7


def test_the_identity_and_the_tls_context_are_part_of_the_origin() -> None:
    url = httpx.URL("https://cdr.example:8443/")
    context, other = ssl.create_default_context(), ssl.create_default_context()
    assert Origin.of(url, "a") != Origin.of(url, "b")
    assert Origin.of(url, "a") == Origin.of(url, "a")
    assert Origin.of(url, "a", context) != Origin.of(url, "a", other)
    assert Origin.of(url, "a", context) == Origin.of(url, "a", context)
    assert Origin.of(url) == Origin("https", "cdr.example", 8443)
