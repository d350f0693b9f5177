"""The gateway's uvicorn protocol: writes of one event-loop step go out as one, and nothing is
lost or reordered, held to a recording transport and to real uvicorn over a real socket."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import httpx
import uvicorn

from cdr.http_protocol import CoalescingHttpProtocol, _CoalescingTransport


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", b""))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", b""))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_step_become_one_write() -> None:
    real = Recording()
    transport = _CoalescingTransport(real)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.calls == []
    assert transport.get_write_buffer_size() == 23  # held, and counted as buffered
    await asyncio.sleep(0)  # the step ends
    assert real.calls == [("write", b"HTTP/1.1 200 OK\r\n\r\nbody")]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.calls[-1] == ("write", b"next")


async def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    real = Recording()
    transport = _CoalescingTransport(real)
    transport.write(b"last words")
    transport.close()
    assert real.calls == [("write", b"last words"), ("close", b"")]
    await asyncio.sleep(0)  # the scheduled flush finds nothing more to send
    assert len(real.calls) == 2

    real = Recording()
    transport = _CoalescingTransport(real)
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert real.calls == [("abort", b"")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":  # a body in pieces, across event-loop steps
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for piece in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-length", b"%d" % len(body))]
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_real_uvicorn_serves_whole_responses_kept_alive_closed_and_streamed() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", http=CoalescingHttpProtocol, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            # Readiness: the first request is retried until the server accepts.
            for _ in range(200):
                try:
                    client.post("/", content=b"ping")
                    break
                except httpx.ConnectError:
                    threading.Event().wait(0.02)
            big = bytes(range(256)) * 8192  # 2 MiB: beyond one socket write
            for content in (b"a", b"bb", big):
                response = client.post("/", content=content)
                assert response.content == content
            closed = client.post("/close", content=b"bye")
            assert closed.content == b"bye"
            assert closed.headers["connection"] == "close"
            assert client.get("/stream").content == b"one two three"
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_private_protocol_we_extend_is_the_one_we_pinned() -> None:
    # cdr/http_protocol.py subclasses uvicorn's private HttpToolsProtocol and swaps the
    # transport it is given in connection_made. pyproject pins uvicorn to the minor release
    # this was written against; a release that moves that API must fail here, loudly, not
    # silently send unbatched or lost writes.
    import inspect

    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    major, minor = (int(part) for part in uvicorn.__version__.split(".")[:2])
    assert (major, minor) == (0, 55), (
        f"uvicorn {uvicorn.__version__}: re-check cdr/http_protocol.py against its "
        "HttpToolsProtocol, then move the pin in pyproject.toml"
    )
    parameters = list(inspect.signature(HttpToolsProtocol.connection_made).parameters)
    assert parameters[:2] == ["self", "transport"]
    source = inspect.getsource(HttpToolsProtocol)
    assert "self.transport = transport" in source  # where our wrapper is kept
    assert "self.transport.write(" in source  # and what every write goes through
