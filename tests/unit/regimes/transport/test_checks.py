"""The checks httpx/h11 make, made by FastTransport: a request that would change meaning on the
wire is refused before any byte is sent; a response beyond the limits or in a transfer coding we
do not decode is refused, and its connection is not used again."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from regimes.transport import FastTransport
from tests.unit.regimes.transport.loopback import OK, Server, answering, send, serving


def fast_client(**limits: int) -> FastTransport:
    return FastTransport(**limits)  # type: ignore[arg-type]


# ---------------------------------------------------------------- requests


@pytest.mark.parametrize("method", ["GE T", "GET\r\n", "", "G\x00T", "PÖST", "ПОСТ"], ids=repr)
async def test_a_method_that_is_not_a_token_is_refused(method: str) -> None:
    async with serving(answering(OK)) as server, fast_client() as client:
        with pytest.raises(httpx.LocalProtocolError, match="method"):
            await send(client, server.url, method, "/", {}, None)
        async with httpx.AsyncClient(transport=client) as httpx_client:
            with pytest.raises(httpx.LocalProtocolError, match="method"):
                await httpx_client.request(method, server.url)
    assert server.requests == []


@pytest.mark.parametrize("name", ["X Finess", "X-Finess:", "X\r\nEvil", "", "X-Ä"], ids=repr)
async def test_a_header_name_that_is_not_a_token_is_refused(name: str) -> None:
    async with serving(answering(OK)) as server, fast_client() as client:
        with pytest.raises(httpx.LocalProtocolError, match="header name"):
            await send(client, server.url, "GET", "/", {name: "1"}, None)
    assert server.requests == []


@pytest.mark.parametrize("value", ["1\r\nX-Evil: 1", "1\nX", "1\rX", "a\x00b"], ids=repr)
async def test_a_header_value_with_nul_cr_or_lf_is_refused(value: str) -> None:
    async with serving(answering(OK)) as server, fast_client() as client:
        with pytest.raises(httpx.LocalProtocolError, match="value of header"):
            await send(client, server.url, "GET", "/", {"X-A": value}, None)
    assert server.requests == []


@pytest.mark.parametrize(
    "target", ["/a b", "/a\r\nX: 1", "/a\x00", "/\x7f", "/\t", "/é", ""], ids=repr
)
async def test_a_target_with_whitespace_a_control_or_non_ascii_character_is_refused(
    target: str,
) -> None:
    async with serving(answering(OK)) as server, fast_client() as client:
        with pytest.raises(httpx.LocalProtocolError, match="target"):
            await send(client, server.url, "GET", target, {}, None)
    assert server.requests == []


# ---------------------------------------------------------------- responses


async def refused(raw: bytes, match: str, **limits: int) -> Server:
    """``raw`` is refused with an error matching ``match``; the next call opens a new
    connection. Returns the server, for its counts."""

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        while await server.read_request(reader) is not None:
            writer.write(raw if len(server.requests) == 1 else OK)
            await writer.drain()

    async with serving(handler) as server, fast_client(**limits) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=match):
            await send(client, server.url)
        assert (await send(client, server.url)).content == b"ok"
    assert server.connections == 2
    return server


async def test_a_head_larger_than_the_limit_is_refused() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 2000 + b"\r\nContent-Length: 2\r\n\r\nok"
    await refused(raw, "head larger than 1024", max_head_bytes=1024)


async def test_many_headers_beyond_the_limit_are_refused() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: aaaaaaaaaa\r\n" * 100 + b"Content-Length: 2\r\n\r\nok"
    await refused(raw, "head larger than 1024", max_head_bytes=1024)


async def test_a_head_that_never_ends_is_refused_without_waiting_for_its_end() -> None:
    endless = asyncio.Event()

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Pad: ")
        while not endless.is_set():
            writer.write(b"a" * 512)
            await writer.drain()
            await asyncio.sleep(0.001)

    async with serving(handler) as server, fast_client(max_head_bytes=4096) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="head larger than 4096"):
            async with asyncio.timeout(5):
                await send(client, server.url, "GET", "/", {}, None)
        endless.set()


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b"a" * 200,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"40\r\n"
        + b"a" * 64
        + b"\r\n"
        + b"40\r\n"
        + b"b" * 64
        + b"\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_a_body_larger_than_the_limit_is_refused(raw: bytes) -> None:
    await refused(raw, "body larger than 100", max_body_bytes=100)


async def test_a_body_until_close_larger_than_the_limit_is_refused() -> None:
    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"a" * 200)
        await writer.drain()

    async with serving(handler) as server, fast_client(max_body_bytes=100) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="body larger than 100"):
            await send(client, server.url, "GET", "/", {}, None)


async def test_a_body_at_the_limit_is_read() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 100
    async with serving(answering(raw)) as server, fast_client(max_body_bytes=100) as client:
        reply = await send(client, server.url, "GET", "/", {}, None)
    assert reply.content == b"a" * 100


@pytest.mark.parametrize("value", [b"gzip", b"gzip, chunked", b"chunked, gzip", b"identity"])
async def test_a_transfer_encoding_other_than_chunked_is_refused(value: bytes) -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + value + b"\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    await refused(raw, "Transfer-Encoding")


async def test_chunked_in_any_case_is_read() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    async with serving(answering(raw)) as server, fast_client() as client:
        reply = await send(client, server.url, "GET", "/", {}, None)
    assert reply.content == b"ok"


@pytest.mark.parametrize("value", [b"a\x00b", b"a\x01b"], ids=["nul", "control"])
async def test_a_response_header_value_with_a_control_character_is_refused(value: bytes) -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-A: " + value + b"\r\nContent-Length: 2\r\n\r\nok"
    await refused(raw, "malformed")


async def test_the_httpx_path_has_the_same_limits() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b"a" * 200
    transport = FastTransport(max_body_bytes=100)
    async with serving(answering(raw)) as server, httpx.AsyncClient(transport=transport) as c:
        with pytest.raises(httpx.RemoteProtocolError, match="body larger than 100"):
            await c.get(server.url)
