"""The audit trail forwarded to a syslog collector, as an IHE ATNA secure node sends its audit
records: RFC 5424 messages over TCP (RFC 6587 octet counting) or TLS (RFC 5425).

Each message carries one AuditEvent as FHIR JSON (MSGID ``AuditEvent``), its id and chain hash
in structured data, at facility authpriv (10), severity notice (5) for a success and warning
(4) for a failure. The collector's place in the trail is kept in the database
(``audit_forwarded``): a restart resumes after the last event sent, and an event is sent again
rather than lost when the connection breaks mid-batch (at least once; the id tells copies
apart). One thread, blocking sockets: a few events a second need no event loop.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cdr.storage.audit import SqlAuditTrail
from cdr.storage.audit_chain import audit_id
from regimes.endpoints import tls_client_context
from rights.errors import CdrError, ConfigError

__all__ = ["AuditForwarder", "SyslogTarget", "parse_syslog_url", "syslog_frame"]

log = logging.getLogger("cdr.audit")

_FACILITY_AUTHPRIV = 10
_NOTICE, _WARNING = 5, 4
_APP = "cdr-gateway"
_MSGID = "AuditEvent"
# RFC 5612: the private enterprise number set aside for documentation and examples.
_SD_ID = "audit@32473"
_BOM = "\ufeff"  # RFC 5424 §6.4: a UTF-8 MSG starts with the BOM
_BATCH = 200


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    tls: bool
    host: str
    port: int

    @property
    def key(self) -> str:
        """How the trail's forwarding table names this collector."""
        return f"{'tls' if self.tls else 'tcp'}://{self.host}:{self.port}"


def parse_syslog_url(url: str) -> SyslogTarget:
    """``tcp://host:port`` or ``tls://host:port`` (RFC 5425's port is 6514); ValueError naming
    what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "tls"):
        raise ValueError(f"{url!r}: the scheme must be tcp:// or tls://")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number from 1 to 65535") from None
    if port is None or port == 0 or parts.path not in ("", "/"):
        raise ValueError(f"{url!r}: expected {parts.scheme}://host:port")
    return SyslogTarget(parts.scheme == "tls", parts.hostname, port)


def syslog_frame(event: dict[str, Any], *, hostname: str, chain_hash: str) -> bytes:
    """One AuditEvent as an octet-counted RFC 5424 message (RFC 6587 §3.4.1, RFC 5425 §4.3)."""
    severity = _NOTICE if event.get("outcome") == "0" else _WARNING
    pri = _FACILITY_AUTHPRIV * 8 + severity
    structured = f'[{_SD_ID} id="{_sd_value(event["id"])}" hash="{chain_hash}"]'
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    message = (
        f"<{pri}>1 {event['recorded']} {_header_word(hostname)} {_APP} - {_MSGID} "
        f"{structured} {_BOM}{body}"
    ).encode()
    return f"{len(message)} ".encode() + message


def _header_word(text: str) -> str:
    # RFC 5424 §6.2: HOSTNAME is printable US-ASCII, at most 255 characters, "-" when unknown.
    word = "".join(c for c in text if 33 <= ord(c) <= 126)[:255]
    return word or "-"


def _sd_value(text: str) -> str:
    # RFC 5424 §6.3.3: '"', '\\' and ']' are escaped inside a PARAM-VALUE.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class AuditForwarder:
    """Sends the trail to ``target`` from a thread of its own, ``poll_s`` apart when idle,
    reconnecting with a growing pause (up to a minute) while the collector is away."""

    def __init__(
        self,
        trail: SqlAuditTrail,
        target: SyslogTarget,
        *,
        hostname: str,
        context: ssl.SSLContext | None = None,
        poll_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        if target.tls and context is None:
            raise ValueError("a tls:// collector needs a TLS context")
        self._trail = trail
        self._target = target
        self._hostname = hostname
        self._context = context
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.sent = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-syslog", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._close()

    def _run(self) -> None:
        pause = self._poll_s
        while not self._stop.is_set():
            try:
                sent = self._forward_batch()
                pause = self._poll_s
                if sent == _BATCH:
                    continue  # more waiting: no pause
            except (OSError, CdrError) as exc:
                self._close()
                log.warning(
                    "audit trail not forwarded to %s: %s; next try in %.0f s",
                    self._target.key,
                    getattr(exc, "message", exc),
                    pause,
                    extra={"event": "audit_forward_failed"},
                )
                pause = min(max(pause * 2, 1.0), 60.0)
            self._stop.wait(pause)

    def _forward_batch(self) -> int:
        after = self._trail.forwarded(self._target.key)
        events = self._trail.events_after(after, _BATCH)
        if not events:
            return 0
        connection = self._connection()
        frames = b"".join(
            syslog_frame(event, hostname=self._hostname, chain_hash=chain_hash)
            for _seq, chain_hash, event in events
        )
        connection.sendall(frames)
        last = events[-1][0]
        self._trail.mark_forwarded(self._target.key, last)
        self.sent += len(events)
        log.debug("audit events to %s: up to %s", self._target.key, audit_id(last))
        return len(events)

    def _connection(self) -> socket.socket:
        if self._socket is None:
            raw = socket.create_connection(
                (self._target.host, self._target.port), timeout=self._timeout_s
            )
            if self._context is not None:
                raw = self._context.wrap_socket(raw, server_hostname=self._target.host)
            self._socket = raw
        return self._socket

    def _close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None


def client_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> ssl.SSLContext:
    """TLS 1.2 or later to the collector, its certificate checked against ``ca_file`` (else the
    system's CAs), with our client certificate when given (ATNA: mutual authentication)."""
    try:
        return tls_client_context(ca_file, cert_file, key_file)
    except ConfigError as exc:
        raise ConfigError(f"CDR_AUDIT_SYSLOG_*: {exc.message}") from exc
