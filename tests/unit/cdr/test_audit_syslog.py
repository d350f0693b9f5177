"""The audit trail sent to a syslog collector over real sockets, plain TCP and TLS with client
certificates: RFC 5424 messages, octet-counted, each event once in order, resumed after a
restart from where the collector was left, and sent again when the collector was away."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdr.audit import Auditor
from cdr.audit_syslog import (
    AuditForwarder,
    SyslogTarget,
    client_context,
    parse_syslog_url,
    syslog_frame,
)
from cdr.storage import Database
from cdr.storage.audit import SqlAuditTrail
from rights.caller import Caller, Entry
from tests.tls import Pki, make_pki

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_HEADER = re.compile(
    r"<(\d+)>1 (\S+) (\S+) cdr-gateway - AuditEvent "
    r"\[audit@32473 id=\"(ae-\d+)\" hash=\"([0-9a-f]{64})\"\] \ufeff(.*)",
    re.DOTALL,
)


class Collector:
    """A syslog receiver on port 0: reads octet-counted frames, keeps the messages."""

    def __init__(self, context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self._context = context
        self.messages: list[str] = []
        self.peers: list[dict] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            if self._context is not None:
                try:
                    connection = self._context.wrap_socket(connection, server_side=True)
                except (ssl.SSLError, OSError):
                    connection.close()
                    continue
                self.peers.append(connection.getpeercert() or {})
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        buffer = b""
        with connection:
            while True:
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    self.messages.append(rest[: int(length)].decode())
                    buffer = rest[int(length) :]

    def wait_for(self, n: int) -> list[str]:
        for _ in range(400):
            if len(self.messages) >= n:
                return self.messages
            time.sleep(0.025)
        raise AssertionError(f"{n} messages expected, {len(self.messages)} received")

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[SqlAuditTrail]:
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    yield SqlAuditTrail(database.engine)
    database.dispose()


def _record(trail: SqlAuditTrail, n: int, *, start: int = 0) -> None:
    auditor = Auditor(
        trail, observer="cdr-gateway@test", structure_finess="750712184", now=lambda: T0
    )
    for i in range(start, start + n):
        trail.record(
            [
                auditor.refusal(
                    Caller(Entry.FHIR, f"c{i}", "10.0.0.1"), "no token", interaction="read"
                )
            ]
        )


def _parsed(message: str) -> tuple[int, str, dict]:
    match = _HEADER.fullmatch(message)
    assert match, message
    event = json.loads(match.group(6))
    assert match.group(4) == event["id"]
    return int(match.group(1)), match.group(4), event


def test_every_event_reaches_the_collector_once_in_order_as_rfc_5424(trail):
    collector = Collector()
    _record(trail, 3)
    target = SyslogTarget(False, "127.0.0.1", collector.port)
    forwarder = AuditForwarder(trail, target, hostname="gw.hopital.example", poll_s=0.05)
    forwarder.start()
    try:
        messages = collector.wait_for(3)
        _record(trail, 2, start=3)
        messages = collector.wait_for(5)
    finally:
        forwarder.stop()
        collector.close()
    parsed = [_parsed(m) for m in messages]
    assert [p[1] for p in parsed] == ["ae-1", "ae-2", "ae-3", "ae-4", "ae-5"]
    pri, _id, event = parsed[0]
    assert pri == 10 * 8 + 4  # authpriv, warning: a refusal
    assert event["resourceType"] == "AuditEvent" and event["outcomeDesc"] == "no token"
    assert trail.forwarded(target.key) == 5


def test_a_restart_resumes_after_the_last_event_sent_and_an_absent_collector_gets_it_later(trail):
    collector = Collector()
    target = SyslogTarget(False, "127.0.0.1", collector.port)
    _record(trail, 2)
    first = AuditForwarder(trail, target, hostname="gw", poll_s=0.05)
    first.start()
    collector.wait_for(2)
    first.stop()
    collector.close()
    _record(trail, 2, start=2)  # recorded while the collector is away
    again = Collector()
    moved = SyslogTarget(False, "127.0.0.1", again.port)
    trail.mark_forwarded(moved.key, trail.forwarded(target.key))  # the same collector, moved
    second = AuditForwarder(trail, moved, hostname="gw", poll_s=0.05)
    second.start()
    try:
        messages = again.wait_for(2)
    finally:
        second.stop()
        again.close()
    assert [_parsed(m)[1] for m in messages] == ["ae-3", "ae-4"]


def test_a_collector_that_is_down_is_retried_without_losing_anything(trail):
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there yet
    _record(trail, 1)
    target = SyslogTarget(False, "127.0.0.1", port)
    forwarder = AuditForwarder(trail, target, hostname="gw", poll_s=0.05)
    forwarder.start()
    time.sleep(0.3)
    assert trail.forwarded(target.key) == 0
    collector = Collector(port=port)  # the collector comes up
    try:
        messages = collector.wait_for(1)
    finally:
        forwarder.stop()
        collector.close()
    assert _parsed(messages[0])[1] == "ae-1"


def test_over_tls_with_a_client_certificate(trail, tmp_path):
    pki: Pki = make_pki(tmp_path / "pki")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.server_cert, pki.server_key)
    server.load_verify_locations(pki.ca)
    server.verify_mode = ssl.CERT_REQUIRED
    collector = Collector(server)
    _record(trail, 1)
    target = parse_syslog_url(f"tls://127.0.0.1:{collector.port}")
    context = client_context(pki.ca, pki.client_cert, pki.client_key)
    forwarder = AuditForwarder(trail, target, hostname="gw", context=context, poll_s=0.05)
    forwarder.start()
    try:
        [message] = collector.wait_for(1)
    finally:
        forwarder.stop()
        collector.close()
    assert _parsed(message)[1] == "ae-1"
    subject = dict(x[0] for x in collector.peers[0]["subject"])
    assert subject["commonName"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("udp://collector:514", "tcp:// or tls://"),
        ("tcp://:514", "no host"),
        ("tls://collector", "host:port"),
        ("tcp://collector:99999", "1 to 65535"),
    ],
)
def test_a_bad_collector_url_names_what_is_wrong(url, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_syslog_url(url)


def test_a_success_is_notice_and_the_structured_data_is_escaped():
    event = {"id": 'ae-"1"]', "recorded": "2026-12-07T09:00:00.000Z", "outcome": "0"}
    frame = syslog_frame(event, hostname="gw host", chain_hash="a" * 64)
    length, _, message = frame.partition(b" ")
    assert int(length) == len(message)
    text = message.decode()
    assert text.startswith("<85>1 2026-12-07T09:00:00.000Z gwhost cdr-gateway - AuditEvent ")
    assert 'id="ae-\\"1\\"\\]"' in text
