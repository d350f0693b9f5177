"""The gateway's HTTP API as `cdr serve` runs it (the app under uvicorn with the guarded
protocol), on a loopback port 0 with small limits so that hostile clients are quick to play;
and a watch on the log: no request of these suites may leave a traceback there."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import uvicorn

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from cdr.http_guard import HttpLimits, guarded_protocol, http_limits
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.postgres import scratch_database

# Small enough to reach in a test, large enough for every ordinary request of the suites.
LIMITS = {
    "http_max_header_bytes": 8192,
    "http_header_timeout_s": 0.5,
    "http_body_timeout_s": 0.5,
    "http_max_connections": 24,
}


@dataclass
class Served:
    port: int
    limits: HttpLimits
    records: list[logging.LogRecord]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """SQLite, and PostgreSQL (a database of its own, dropped after) when
    ``CDR_TEST_POSTGRES_URL`` is set: the two refuse different values (NUL characters...)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('http') / 'cdr.sqlite3'}"
        return
    with scratch_database("the hostile suite on PostgreSQL") as url:
        yield url


@contextmanager
def serving(
    sandbox: RunningServer, data_dir: Path, database_url: str, **limits: object
) -> Iterator[Served]:
    """The gateway's app under uvicorn with the guarded protocol, as `cdr serve` runs it."""
    settings = gateway_settings(
        sandbox.url, data_dir, database_url=database_url, **{**LIMITS, **limits}
    )
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    guard = http_limits(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        build_http_app(gateway, tune_gc=False),
        log_level="warning",
        log_config=None,
        access_log=False,
        http=guarded_protocol(guard),
        ws="none",
    )
    server = uvicorn.Server(config)
    keep = _Keep()
    logging.getLogger().addHandler(keep)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        thread.join(0.01)
    try:
        yield Served(sock.getsockname()[1], guard, keep.records)
    finally:
        server.should_exit = True
        thread.join(15)
        logging.getLogger().removeHandler(keep)
    # Kept fixed: whatever the clients sent, nothing failed inside the gateway.
    failures = [r for r in keep.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not failures, [f"{r.name}: {r.getMessage()}" for r in failures]


@pytest.fixture(scope="module")
def served(
    sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[Served]:
    with serving(sandbox, tmp_path_factory.mktemp("http"), database_url) as running:
        yield running


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (the socket timeout bounds the wait)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def exchange(port: int, *parts: bytes) -> bytes:
    """Send ``parts`` on a new connection and read the answer until the server closes."""
    with connect(port) as sock:
        for part in parts:
            sock.sendall(part)
        return read_until_closed(sock)


def status_and_outcome(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/fhir+json" in head.lower(), head
    outcome = orjson.loads(body)
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return status, outcome
