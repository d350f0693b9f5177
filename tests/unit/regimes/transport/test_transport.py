"""FastTransport against loopback servers that send exact bytes, so each edge case is controlled."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from regimes.transport import FastTransport, Origin
from sandbox.server import RunningServer, start_in_thread
from tests.unit.regimes.transport.loopback import OK, Handler, Server, answering, serving


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=FastTransport()) as client:
        yield client


async def test_content_length_body(client: httpx.AsyncClient) -> None:
    raw = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Regime: cnam\r\n\r\nhello"
    async with serving(answering(raw)) as server:
        response = await client.get(server.url)
    assert response.status_code == 201
    assert response.content == b"hello"
    assert response.headers["x-regime"] == "cnam"
    assert response.reason_phrase == "Created"
    assert response.http_version == "HTTP/1.1"


async def test_chunked_body(client: httpx.AsyncClient) -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n"
    )
    async with serving(answering(raw)) as server:
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.content == second.content == b"hello world"
    assert "x-trailer" not in first.headers
    assert server.connections == 1


async def test_body_until_close(client: httpx.AsyncClient) -> None:
    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil ")
        await writer.drain()
        writer.write(b"the end")

    async with serving(handler) as server:
        first = await client.get(server.url)
        second = await client.get(server.url)
    assert first.content == second.content == b"until the end"
    assert server.connections == 2


async def test_response_in_tiny_writes(client: httpx.AsyncClient) -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Long-Header: abcdef\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        for offset in range(len(raw)):
            writer.write(raw[offset : offset + 1])
            await writer.drain()
            await asyncio.sleep(0)  # a separate segment each time, not one coalesced write
        await reader.read()

    async with serving(handler) as server:
        response = await client.get(server.url)
    assert response.content == b"abcdefg"
    assert response.headers["x-long-header"] == "abcdef"


async def test_keep_alive_reuses_the_connection(client: httpx.AsyncClient) -> None:
    async with serving(answering(OK)) as server:
        for _ in range(3):
            assert (await client.get(server.url)).text == "ok"
    assert server.connections == 1


async def test_connection_close_response_is_not_reused(client: httpx.AsyncClient) -> None:
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with serving(answering(raw)) as server:  # the server itself would keep it open
        await client.get(server.url)
        await client.get(server.url)
    assert server.connections == 2


async def test_idle_connection_closed_by_server_is_replaced(client: httpx.AsyncClient) -> None:
    closed = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(OK)
        if server.connections == 1:
            writer.close()
            await writer.wait_closed()
            closed.set()
        else:
            await answering(OK)(server, reader, writer)

    async with serving(handler) as server:
        await client.get(server.url)
        async with asyncio.timeout(5):
            await closed.wait()
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_expired_idle_connection_is_closed_not_reused() -> None:
    hung_up = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await answering(OK)(server, reader, writer)
        hung_up.set()

    async with (
        httpx.AsyncClient(transport=FastTransport(keepalive_expiry=0.0)) as client,
        serving(handler) as server,
    ):
        await client.get(server.url)
        await client.get(server.url)
        async with asyncio.timeout(5):
            await hung_up.wait()
    assert server.connections == 2


def dropping_the_second_request() -> Handler:
    """The first connection answers once, then drops the next request unanswered: from the
    client's side it was closed while idle, a race a real keep-alive timeout produces."""

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if server.connections == 1:
            await server.read_request(reader)
            writer.write(OK)
            await server.read_request(reader)
        else:
            await answering(OK)(server, reader, writer)

    return handler


async def test_stale_connection_is_retried_once_on_a_fresh_one(client: httpx.AsyncClient) -> None:
    async with serving(dropping_the_second_request()) as server:
        await client.get(server.url)
        assert (await client.get(f"{server.url}/again")).text == "ok"
    assert server.connections == 2
    assert [b"/again" in request for request in server.requests] == [False, True, True]


async def test_a_post_on_a_stale_connection_is_not_sent_again(client: httpx.AsyncClient) -> None:
    # RFC 9110 §9.2.2: the server may have acted on the POST before closing.
    async with serving(dropping_the_second_request()) as server:
        await client.get(server.url)
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.post(server.url, content=b"once")
    assert server.connections == 1
    assert [request.endswith(b"once") for request in server.requests] == [False, True]


async def test_a_post_declared_idempotent_is_sent_again(client: httpx.AsyncClient) -> None:
    async with serving(dropping_the_second_request()) as server:
        await client.get(server.url)
        request = client.build_request("POST", server.url, content=b"again")
        request.extensions["idempotent"] = True
        assert (await client.send(request)).text == "ok"
    assert server.connections == 2
    assert [request.endswith(b"again") for request in server.requests] == [False, True, True]


async def test_fresh_connection_closed_without_answer_is_not_retried(
    client: httpx.AsyncClient,
) -> None:
    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)

    async with serving(handler) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.get(server.url)
    assert server.connections == 1
    assert len(server.requests) == 1


async def test_truncated_body_is_a_protocol_error(client: httpx.AsyncClient) -> None:
    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")

    async with serving(handler) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await client.get(server.url)


async def test_refused_connection_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{port}/")


async def test_read_timeout_discards_the_connection(client: httpx.AsyncClient) -> None:
    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if server.connections == 1:
            await server.read_request(reader)
            await reader.read()  # never answers; returns when the client hangs up
        else:
            await answering(OK)(server, reader, writer)

    async with serving(handler) as server:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url, timeout=httpx.Timeout(5, read=0.05))
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_garbage_status_line_is_a_protocol_error(client: httpx.AsyncClient) -> None:
    async with serving(answering(b"HTPT/1.1 200 OK\r\n\r\n")) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
            await client.get(server.url)


async def test_request_bytes_seen_by_the_server(client: httpx.AsyncClient) -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"str"
        yield b"eamed"

    async with serving(answering(OK)) as server:
        await client.post(
            f"{server.url}/regimes/cnam/lookup?nir=1&q=a%20b",
            content=b'{"a": 1}',
            headers={"X-Trace": "t-1", "Content-Type": "application/json"},
        )
        await client.get(f"{server.url}/plain")
        await client.put(f"{server.url}/stream", content=stream())
    host = server.url.removeprefix("http://")
    post, get, put = (request.split(b"\r\n") for request in server.requests)
    assert post[0] == b"POST /regimes/cnam/lookup?nir=1&q=a%20b HTTP/1.1"
    assert f"Host: {host}".encode() in post
    assert b"X-Trace: t-1" in post
    assert b"Content-Type: application/json" in post
    assert b"Content-Length: 8" in post
    assert post[-1] == b'{"a": 1}'
    assert get[0] == b"GET /plain HTTP/1.1"
    assert not any(line.lower().startswith(b"content-length") for line in get)
    # A streamed body is read first, so it goes with a length rather than chunked.
    assert b"Content-Length: 8" in put
    assert not any(line.lower().startswith(b"transfer-encoding") for line in put)
    assert put[-1] == b"streamed"


async def test_max_connections_per_origin() -> None:
    limit = 3
    full = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if server.open >= limit:
            full.set()
        while await server.read_request(reader) is not None:
            await full.wait()  # hold the answers until the transport has opened its limit
            writer.write(OK)
            await writer.drain()

    transport = FastTransport(max_connections=limit)
    async with (
        httpx.AsyncClient(transport=transport) as client,
        serving(handler) as server,
        asyncio.timeout(5),
    ):
        responses = await asyncio.gather(*(client.get(server.url) for _ in range(20)))
    assert [response.text for response in responses] == ["ok"] * 20
    assert server.max_open == limit
    assert server.connections == limit


async def test_pool_timeout() -> None:
    received = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        received.set()
        await reader.read()

    async with (
        httpx.AsyncClient(transport=FastTransport(max_connections=1)) as client,
        serving(handler) as server,
    ):
        held = asyncio.create_task(client.get(server.url))
        async with asyncio.timeout(5):
            await received.wait()
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.url, timeout=httpx.Timeout(5, pool=0.05))
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held


async def test_cancelled_request_closes_its_connection(client: httpx.AsyncClient) -> None:
    received = asyncio.Event()
    hung_up = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        received.set()
        await reader.read()
        hung_up.set()

    async with serving(handler) as server:
        request = asyncio.create_task(client.get(server.url))
        async with asyncio.timeout(5):
            await received.wait()
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            await hung_up.wait()


async def test_aclose_closes_idle_connections() -> None:
    hung_up = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await answering(OK)(server, reader, writer)
        hung_up.set()

    transport = FastTransport()
    async with serving(handler) as server:
        await transport.handle_async_request(httpx.Request("GET", server.url))
        assert not hung_up.is_set()
        await transport.aclose()
        async with asyncio.timeout(5):
            await hung_up.wait()


async def test_head_and_interim_responses(client: httpx.AsyncClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK
    async with serving(answering(head, interim)) as server:
        assert (await client.head(server.url)).headers["content-length"] == "5"
        response = await client.get(server.url)
    assert (response.status_code, response.text) == (200, "ok")
    assert "link" not in response.headers
    assert server.connections == 1


async def test_unsupported_scheme() -> None:
    async with FastTransport() as transport:
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ftp://example.org/"))


@pytest.fixture
def echo_app() -> Iterator[RunningServer]:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"got": await request.json(), "q": request.query_params["q"]})

    with start_in_thread(Starlette(routes=[Route("/echo", echo, methods=["POST"])])) as server:
        yield server


async def test_json_post_through_uvicorn(echo_app: RunningServer) -> None:
    async with httpx.AsyncClient(transport=FastTransport(), base_url=echo_app.url) as client:
        for n in range(3):
            response = await client.post("/echo", params={"q": "é"}, json={"n": n, "nir": "1"})
            assert response.status_code == 200
            assert response.json() == {"got": {"n": n, "nir": "1"}, "q": "é"}


def test_origin_host_header_leaves_out_the_default_port() -> None:
    assert Origin.of(httpx.URL("https://cdr.example:443/x")).host_header == b"cdr.example"
    assert Origin.of(httpx.URL("http://cdr.example:8080")).host_header == b"cdr.example:8080"
    assert Origin.of(httpx.URL("http://[::1]:8080")).host_header == b"[::1]:8080"
    with pytest.raises(httpx.UnsupportedProtocol):
        Origin.of(httpx.URL("ftp://cdr.example"))


async def test_read_timeout_is_for_silence_not_for_the_whole_answer(
    client: httpx.AsyncClient,
) -> None:
    # Five pieces 0.3 s apart: 1.5 s in all, longer than the 1 s read timeout, but never more
    # than 0.3 s of silence (wide margins: a loaded machine may delay a piece).
    async def trickle(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        for piece in b"hello":
            await asyncio.sleep(0.3)
            writer.write(bytes([piece]))
            await writer.drain()
        await reader.read()

    async with serving(trickle) as server:
        response = await client.get(server.url, timeout=httpx.Timeout(5, read=1.0))
    assert response.content == b"hello"


async def test_a_request_larger_than_the_socket_takes_is_sent_whole() -> None:
    body = b"x" * (8 * 1024 * 1024)  # beyond the kernel's buffers: the transport must wait

    async def slow_reader(
        server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        await asyncio.sleep(0.2)
        request = await server.read_request(reader)
        assert request is not None
        writer.write(OK)
        await writer.drain()
        await reader.read()

    async with serving(slow_reader) as server, httpx.AsyncClient(transport=FastTransport()) as c:
        response = await c.post(server.url, content=body)
    assert response.text == "ok"
    assert server.requests[0].endswith(body)
