"""What the gateway and codec tests of every wire family share: the committed fixtures of a family,
hand-written ``httpx.MockTransport`` handlers, and one gateway call over such a handler.

``fetch`` makes each call twice: through an ``HttpxPort`` on an httpx client over
``MockTransport``, and through the ``FastPort`` the gateway runs on in production, over loopback
to a server that hands each request to the same handler. Both must send the same requests (as
many, the same bytes) and come to the same answer, so every family test covers both
implementations of the regime port. The loopback server speaks the base URL's scheme: for an
https base URL it serves TLS with a throwaway test certificate (tests/tls.py), which the
``FastPort`` verifies, so the gateway tests run the https branch of the transport."""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from http import HTTPStatus
from pathlib import Path

import httpx

from regimes.endpoints import RegimeEndpoint, client_tls_context
from regimes.httpx_port import HttpxPort
from regimes.port import RegimePort
from regimes.transport import FastPort, FastTransport
from rights.catalogue import Regime
from rights.model import RegimeRights, RightsQuery
from rights.ports import RegimeGateway
from tests.tls import Pki, make_pki

Handler = Callable[[httpx.Request], httpx.Response]
GatewayType = Callable[[RegimePort], RegimeGateway]


class Fixtures:
    """The committed answers and requests of a wire family: ``tests/fixtures/regimes/<family>``."""

    def __init__(self, family: str) -> None:
        self.path = Path(__file__).parents[2] / "fixtures" / "regimes" / family

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def load(self, name: str) -> object:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def names(self, pattern: str) -> list[str]:
        names = sorted(p.name for p in self.path.glob(pattern))
        assert names, f"no fixture matches {pattern}"
        return names


def respond(status: int, content: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return handler


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def recording(handler: Handler) -> tuple[Handler, list[httpx.Request]]:
    """``handler`` that also keeps every request it answers, in the list returned with it."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return record, seen


async def fetch(
    gateway: GatewayType, base_url: str, handler: Handler, regime: Regime, query: RightsQuery
) -> RegimeRights | None:
    mock_seen: list[httpx.Request] = []
    mock_port = HttpxPort(
        httpx.AsyncClient(transport=httpx.MockTransport(_keep(handler, mock_seen))), base_url
    )
    try:
        mock = await _outcome(gateway(mock_port).fetch(regime, query))
    finally:
        await mock_port.aclose()
    fast_seen: list[httpx.Request] = []
    async with _loopback(_keep(handler, fast_seen), base_url) as url:
        endpoint = RegimeEndpoint(url, ssl_context=_client_tls())
        fast_port = FastPort(FastTransport(), endpoint, httpx.Timeout(5))
        try:
            fast = await _outcome(gateway(fast_port).fetch(regime, query))
        finally:
            await fast_port.aclose()
    assert len(fast_seen) == len(mock_seen), "the two ports sent different numbers of requests"
    assert [_wire(r) for r in fast_seen] == [_wire(r) for r in mock_seen]
    if not _HANDLER_FAILED & {id(r) for r in fast_seen}:
        assert _describe(fast) == _describe(mock)
    if isinstance(mock, BaseException):
        raise mock
    return mock


_HANDLER_FAILED: set[int] = set()  # requests whose handler raised: no answer to compare


def _keep(handler: Handler, seen: list[httpx.Request]) -> Handler:
    def keep(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return keep


async def _outcome(call: object) -> RegimeRights | BaseException | None:
    try:
        return await call  # type: ignore[no-any-return, misc]
    except Exception as exc:
        return exc


def _describe(outcome: RegimeRights | BaseException | None) -> object:
    if isinstance(outcome, BaseException):
        return (type(outcome), str(outcome))
    return outcome


# What httpx adds to every request by itself; the FastPort sends none of these.
_CLIENT_DEFAULTS = {"host", "user-agent", "accept-encoding", "connection", "content-length"}


def _wire(request: httpx.Request) -> tuple[object, ...]:
    headers = sorted(
        (k.lower(), v) for k, v in request.headers.items() if k.lower() not in _CLIENT_DEFAULTS
    )
    accept = request.headers.get("accept")
    if accept == "*/*":  # httpx's default Accept, where the gateway set none
        headers.remove(("accept", "*/*"))
    return (request.method, request.url.raw_path, request.content, headers)


@asynccontextmanager
async def _loopback(handler: Handler, base_url: str) -> AsyncIterator[str]:
    """A loopback HTTP/1.1 server answering each request with ``handler``, the request's URL
    rewritten onto ``base_url`` (what the handler saw through ``MockTransport``); over TLS when
    ``base_url`` is https."""
    base = httpx.URL(base_url)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *fields = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = line.split(" ")
                headers = [tuple(f.split(": ", 1)) for f in fields]
                length = sum(int(v) for k, v in headers if k.lower() == "content-length")
                body = await reader.readexactly(length)
                request = httpx.Request(
                    method,
                    base.copy_with(raw_path=target.encode("ascii")),
                    headers=headers,
                    content=body,
                )
                try:
                    response = handler(request)
                except Exception:
                    _HANDLER_FAILED.add(id(request))
                    return
                writer.write(_response_bytes(response))
                await writer.drain()
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    tls = _server_tls() if base.scheme == "https" else None
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{base.scheme}://127.0.0.1:{port}{base.raw_path.decode()}"
    finally:
        server.close()


@functools.cache
def _pki() -> Pki:
    """One throwaway PKI for the whole run, removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="cdr-test-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_pki(directory)


@functools.cache
def _server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(_pki().server_cert, _pki().server_key)
    return context


@functools.cache
def _client_tls() -> ssl.SSLContext:
    return client_tls_context(_pki().ca)


def _response_bytes(response: httpx.Response) -> bytes:
    content = response.content
    lines = [f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}"]
    lines += [
        f"{k}: {v}"
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "transfer-encoding")
    ]
    lines.append(f"Content-Length: {len(content)}")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + content


async def health(gateway: GatewayType, base_url: str, handler: Handler, regime: Regime) -> bool:
    port = HttpxPort(httpx.AsyncClient(transport=httpx.MockTransport(handler)), base_url)
    try:
        return await gateway(port).health(regime)
    finally:
        await port.aclose()
