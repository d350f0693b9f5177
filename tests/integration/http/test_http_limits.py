"""What one HTTP client may hold of the gateway (issue 11, items 1, 4, 7): over real sockets,
against the app under uvicorn with the gateway's protocol and small limits (conftest)."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import httpx
import pytest

from sandbox.server import RunningServer
from tests.integration.http.conftest import (
    Served,
    connect,
    exchange,
    read_until_closed,
    serving,
    status_and_outcome,
)

HEAD = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The protocol's limits do not depend on the database: SQLite only."""
    return f"sqlite:///{tmp_path_factory.mktemp('limits') / 'cdr.sqlite3'}"


def test_a_head_larger_than_the_limit_is_refused_with_431_without_reading_it_all(
    served: Served,
) -> None:
    with connect(served.port) as sock:
        sock.sendall(HEAD + b"X-Long: ")
        sent = 0
        try:  # the server closes long before the 1 MiB that this client would send
            while sent < 1 << 20:
                sock.sendall(b"a" * 4096)
                sent += 4096
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = read_until_closed(sock)
    status, outcome = status_and_outcome(response)
    assert status == 431
    assert "exceeds 8192 bytes" in outcome["issue"][0]["diagnostics"]  # type: ignore[index]


def test_a_head_just_under_the_limit_is_served(served: Served) -> None:
    response = httpx.get(f"http://127.0.0.1:{served.port}/healthz", headers={"X-Long": "a" * 7000})
    assert response.status_code == 200


def test_an_unfinished_head_is_answered_408_and_closed(served: Served) -> None:
    status, outcome = status_and_outcome(exchange(served.port, HEAD + b"X-Never: end"))
    assert status == 408
    assert outcome["issue"][0]["code"] == "timeout"  # type: ignore[index]


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    assert exchange(served.port) == b""


def test_a_body_shorter_than_its_content_length_is_answered_408_and_closed(
    served: Served,
) -> None:
    request = (
        b"POST /fhir/CoverageEligibilityRequest/$submit HTTP/1.1\r\nHost: gateway\r\n"
        b'Content-Type: application/fhir+json\r\nContent-Length: 1000\r\n\r\n{"resourceType"'
    )
    status, _ = status_and_outcome(exchange(served.port, request))
    assert status == 408


def test_a_body_still_coming_after_a_refusal_does_not_hold_the_connection(
    served: Served,
) -> None:
    # 415 is answered from the head; the client then never sends the body it announced.
    request = (
        b"POST /fhir/CoverageEligibilityRequest/$submit HTTP/1.1\r\nHost: gateway\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc"
    )
    response = exchange(served.port, request)
    assert response.startswith(b"HTTP/1.1 415 ")
    assert b" 408 " not in response  # no second answer to the same request


def test_trickling_clients_beyond_the_connection_limit_do_not_keep_a_request_out(
    served: Served,
) -> None:
    # Slowloris: twice as many connections as allowed, each trickling an endless head.
    slow = [connect(served.port) for _ in range(2 * served.limits.max_connections)]
    try:
        for sock in slow:
            with contextlib.suppress(OSError):  # closed to make room already
                sock.sendall(HEAD)
        with httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as client:
            for _ in range(3):
                assert client.get("/healthz").status_code == 200
        # The gateway held no more than its limit: it closed the longest-waiting ones.
        deadline = time.monotonic() + 10
        while _closed_by_server(slow) < len(slow) - served.limits.max_connections:
            assert time.monotonic() < deadline, "connections beyond the limit were kept open"
            time.sleep(0.01)
    finally:
        for sock in slow:
            sock.close()


def _closed_by_server(sockets: list[socket.socket]) -> int:
    closed = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            closed += sock.recv(1) == b""
        except BlockingIOError:
            pass  # still open
        except ConnectionResetError:
            closed += 1
    return closed


def test_keep_alive_requests_past_the_head_timeout_are_still_served(served: Served) -> None:
    # The head clock starts when the previous response went out, not with the connection.
    with httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as client:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200


def test_parser_errors_are_operation_outcomes(served: Served) -> None:
    request = b"POST /fhir/metadata HTTP/1.1\r\nHost: gateway\r\nContent-Length: -1\r\n\r\n"
    status, outcome = status_and_outcome(exchange(served.port, request))
    assert status == 400
    assert outcome["issue"][0]["code"] == "structure"  # type: ignore[index]
    # Logged through the service's own log (JSON lines), not as uvicorn text.
    assert any(r.name == "cdr.http" for r in served.records)


def test_http_1_1_without_host_is_refused(served: Served) -> None:
    status, outcome = status_and_outcome(exchange(served.port, b"GET /healthz HTTP/1.1\r\n\r\n"))
    assert status == 400
    assert "Host" in outcome["issue"][0]["diagnostics"]  # type: ignore[index]


def test_http_1_0_without_host_is_served(served: Served) -> None:
    response = exchange(served.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 ")


def test_an_http_0_9_request_line_is_answered_and_closed(served: Served) -> None:
    # Answered at once with 400 (the head timeout would answer 408).
    status, _ = status_and_outcome(exchange(served.port, b"GET /healthz\r\n"))
    assert status == 400


def test_when_every_connection_is_busy_with_a_request_a_newcomer_gets_503(
    sandbox: RunningServer, tmp_path: Path
) -> None:
    with serving(
        sandbox,
        tmp_path,
        f"sqlite:///{tmp_path / 'cdr.sqlite3'}",
        http_max_connections=3,
        http_body_timeout_s=30.0,
    ) as crowded:
        busy = [connect(crowded.port) for _ in range(3)]
        try:
            for sock in busy:  # each in the middle of a body the application is reading
                sock.sendall(
                    b"POST /fhir/CoverageEligibilityRequest/$submit HTTP/1.1\r\n"
                    b"Host: gateway\r\nContent-Type: application/fhir+json\r\n"
                    b"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"
                )
                # The application asks for the body: the head is read, the request under way.
                assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
            status, outcome = status_and_outcome(exchange(crowded.port, HEAD + b"\r\n"))
            assert status == 503
            assert outcome["issue"][0]["code"] == "transient"  # type: ignore[index]
        finally:
            for sock in busy:
                sock.close()


def test_an_upgrade_request_is_answered_as_plain_http(served: Served) -> None:
    before = len(served.records)
    response = exchange(
        served.port,
        b"GET /fhir/metadata HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade, close\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
    )
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b"CapabilityStatement" in response
    assert served.records[before:] == []  # no warning per request
