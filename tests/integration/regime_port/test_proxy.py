"""Regime calls through a hospital's HTTP proxy (CDR_REGIMES_PROXY_URL): https tunnels with
CONNECT, the TLS session and its client certificate end to end, the proxy seeing only where to.
A small CONNECT proxy runs in the test, over real sockets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdr.bootstrap import build_gateway, build_sandbox
from cdr.clock import SystemClock
from rights.result import RegimeStatus
from sandbox.server import RunningServer, SandboxTls, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION, look
from tests.tls import Pki, make_pki


class ConnectProxy:
    """Accepts ``CONNECT host:port``, records it, and pipes bytes both ways."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.refused: list[str] = []
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):  # the tunnels still piping
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        for writer in self._writers:
            writer.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n")[0].decode().split(" ")
        if method != "CONNECT":
            self.refused.append(f"{method} {target}")
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self._writers.append(upstream_writer)
        self.tunnels.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_sandbox(pki: Pki, tmp_path: Path) -> Iterator[RunningServer]:
    settings = gateway_settings("http://unused", tmp_path / "sandbox")
    tls = SandboxTls(pki.server_cert, pki.server_key, pki.ca)
    server = start_in_thread(build_sandbox(settings, today=SystemClock().today()), tls=tls)
    yield server
    server.stop()


async def test_https_regime_calls_tunnel_through_the_proxy(pki, tls_sandbox, tmp_path) -> None:
    proxy = ConnectProxy()
    proxy.start()
    try:
        settings = gateway_settings(
            tls_sandbox.url,
            tmp_path / "gw",
            regimes_proxy_url=f"http://127.0.0.1:{proxy.port}",
            regimes_ca_file=pki.ca,
            regimes_client_cert_file=pki.client_cert,
            regimes_client_key_file=pki.client_key,
        )
        gateway = build_gateway(settings)
        try:
            member = next(m for m in POPULATION.members if "open" in m.scenarios)
            report = await look(gateway, member)
        finally:
            await gateway.aclose()
    finally:
        proxy.stop()
    assert [r.status for r in report.results] == [RegimeStatus.FOUND], report.results
    port = tls_sandbox.url.rsplit(":", 1)[1]
    assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{port}"}
    assert proxy.refused == []
