"""What one HTTP client may hold of the gateway: head size, head and body time, connections.

uvicorn's httptools protocol reads whatever a client sends: a 100 MB request head, a head or a
body that never ends, as many connections as the system allows. ``GuardedHttpProtocol`` adds
the limits at the protocol, where the bytes arrive, before any ASGI code runs:

- a request head (request line and headers) larger than ``max_header_bytes``: 431 and close
  (RFC 6585 §5);
- a head not complete ``header_timeout_s`` after the connection opened or the previous response
  went out: 408 and close (RFC 9110 §15.5.9), or a plain close when nothing of a request came;
- a body not complete ``body_timeout_s`` after its head (a ``Content-Length`` larger than the
  body sent, a body trickled byte by byte): 408 and close, the application told the client left;
- more than ``max_connections`` open: the connection that has waited longest for a request head
  is closed to make room, so clients trickling heads (slowloris) cannot keep a client that sends
  a whole request from being served; when every connection is busy with a request the newcomer
  gets 503 and close.

It also answers what the parser refuses (a bad ``Content-Length``, RFC 9112 §6.3), an HTTP/1.1
request without ``Host`` (§3.2) and an HTTP/0.9 request line (on a connection's first request)
with an OperationOutcome instead of uvicorn's plain-text 400 or silence; a refused client gets
its answer before the connection closes (a lingering close, §9.6).

Time is checked by one timer per connection that re-arms itself from a deadline, so a request
costs a clock read, not a timer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from dataclasses import dataclass
from typing import Any

import orjson

from cdr.http_protocol import CoalescingHttpProtocol
from cdr.settings import Settings
from fhir_server.outcome import operation_outcome

__all__ = ["GuardedHttpProtocol", "HttpLimits", "guarded_protocol", "http_limits"]

log = logging.getLogger("cdr.http")

# Per server: its connections waiting for a request head, longest-waiting first (a dict keeps
# insertion order), so that making room costs the same at any number of connections.
_WAITING: weakref.WeakKeyDictionary[Any, dict[GuardedHttpProtocol, None]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 65_536
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000


def outcome_response(status: int, reason: str, code: str, diagnostics: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, its body an OperationOutcome."""
    body = orjson.dumps(
        operation_outcome([{"severity": "error", "code": code, "diagnostics": diagnostics}])
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/fhir+json; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_TIMEOUT_HEAD = outcome_response(
    408, "Request Timeout", "timeout", "the request head did not arrive in time"
)
_TIMEOUT_BODY = outcome_response(
    408, "Request Timeout", "timeout", "the request body did not arrive in time"
)
_BUSY = outcome_response(
    503, "Service Unavailable", "transient", "too many connections; try again later"
)
_NO_HOST = outcome_response(
    400, "Bad Request", "structure", "an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)"
)
_HTTP_09 = outcome_response(
    400, "Bad Request", "not-supported", "HTTP/0.9 is not served: send an HTTP/1.1 request line"
)
_BAD_VERSION = outcome_response(
    505, "HTTP Version Not Supported", "not-supported", "send HTTP/1.1 (or HTTP/1.0) requests"
)


# How long a refused client may go on sending (its bytes dropped) before the connection closes.
_LINGER_S = 2.0


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        max_connections=settings.http_max_connections,
    )


def guarded_protocol(limits: HttpLimits) -> Any:
    """The protocol to give uvicorn as its ``http`` setting (it calls it as a class); it pickles,
    so uvicorn's worker processes get the same limits."""
    return functools.partial(GuardedHttpProtocol, limits=limits)


class GuardedHttpProtocol(CoalescingHttpProtocol):
    def __init__(self, *args: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._in_head = True  # between requests or reading a head
        self._in_body = False  # head read, body not complete
        self._head_bytes = 0  # bytes of the current head received so far
        self._head_since = 0.0  # loop time the current head phase started
        self._body_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: dict[GuardedHttpProtocol, None] = {}
        self._lingering = False

    # --- connections ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting = _WAITING.setdefault(self.server_state, {})
        self._head_since = self.loop.time()
        self._timer = self.loop.call_at(
            self._head_since + self._limits.header_timeout_s, self._check_time
        )
        if len(self.connections) > self._limits.max_connections and not self._make_room():
            self._refuse(_BUSY)
            return
        self._waiting[self] = None

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a head (not this one, not yet in
        ``_waiting``): the first of ``_waiting``, which holds them in the order they began."""
        oldest = next(iter(self._waiting), None)
        if oldest is None:
            return False
        log.debug("connection limit reached: closing the longest-waiting connection")
        del self._waiting[oldest]
        oldest.transport.close()
        oldest.connections.discard(oldest)  # counted out now, not when the close completes
        return True

    def _idle(self) -> bool:
        """Waiting for a request head, no request of this connection being answered."""
        return self._in_head and (self.cycle is None or self.cycle.response_complete)

    def connection_lost(self, exc: Exception | None) -> None:
        self._waiting.pop(self, None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def _refuse(self, response: bytes) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if answering:
            # The application is reading this request: tell it the client is gone.
            cycle.disconnected = True
            cycle.message_event.set()
        if self.transport.is_closing() or self._lingering:
            return
        if answering and cycle.response_started:  # never an answer inside another response
            self.transport.close()
            return
        self.transport.write(response)
        # Closing now, with the client's bytes still unread, would reset the connection and
        # could destroy the answer before the client reads it (RFC 9112 §9.6): send it, end
        # our side, and discard what still comes for a moment before closing.
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = True
        self._timer = self.loop.call_later(_LINGER_S, self.transport.close)

    # --- bytes ------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # refused: read and dropped until the close
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes > self._limits.max_header_bytes:
            self._refuse(
                outcome_response(
                    431,
                    "Request Header Fields Too Large",
                    "too-long",
                    f"the request head exceeds {self._limits.max_header_bytes} bytes",
                )
            )
        elif self._head_bytes and b"\n" in data and self.parser.get_http_version() == "0.0":
            self._refuse(_HTTP_09)  # a request line without a version: HTTP/0.9

    def send_400_response(self, msg: str) -> None:
        # What the parser refused (uvicorn would answer text/plain and log it as text).
        log.warning("invalid HTTP request refused", extra={"reason": msg})
        self._refuse(outcome_response(400, "Bad Request", "structure", "invalid HTTP/1.1 request"))

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn warns twice per ``Upgrade`` request (and names a missing WebSocket library):
        # the gateway runs with ``ws="none"`` on purpose and answers it as plain HTTP.
        pass

    def on_headers_complete(self) -> None:
        self._waiting.pop(self, None)
        self._in_head = False
        self._in_body = True
        self._body_since = self.loop.time()
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._refuse(_BAD_VERSION)
            return
        if version == "1.1" and not any(name == b"host" for name, _ in self.headers):
            self._refuse(_NO_HOST)
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._in_head = True
        self._head_bytes = 0
        if self.cycle is not None:  # None: the only head of this connection was refused
            super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self.cycle is None:  # the head was refused: nothing reads this body
            return
        super().on_body(body)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head_since = self.loop.time()
        if self._idle() and not self.transport.is_closing():
            self._waiting[self] = None  # at the end: the latest to begin waiting

    # --- time -------------------------------------------------------------------------------

    def _check_time(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        limits = self._limits
        if self._in_body:
            deadline = self._body_since + limits.body_timeout_s
            if now >= deadline:
                if self.cycle is not None and self.cycle.response_complete:
                    self.transport.close()  # answered already (say 413): stop reading
                else:
                    self._refuse(_TIMEOUT_BODY)
                return
        elif not self._idle():  # the application is answering: not the client's time
            deadline = now + limits.header_timeout_s
        else:
            deadline = self._head_since + limits.header_timeout_s
            if now >= deadline:
                if self._head_bytes:
                    self._refuse(_TIMEOUT_HEAD)
                else:  # nothing of a request came: close quietly
                    self.transport.close()
                return
        self._timer = self.loop.call_at(deadline, self._check_time)
