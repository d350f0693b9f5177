"""Reading one response with ``httptools`` (llhttp), with the limits h11 holds a peer to.

llhttp refuses malformed status lines, header names that are not tokens and control characters
(NUL included) in header values. What it lets through is refused here: a head or a body larger
than the limits (a regime answer is a few kilobytes; a peer sending more is broken or hostile and
would otherwise hold memory), and a ``Transfer-Encoding`` other than ``chunked`` (RFC 9112 §6.1:
a coding we do not decode would hand the codec bytes it cannot read; h11 refuses it too).
"""

from __future__ import annotations

import httptools
import httpx

from regimes.port import WireReply
from regimes.transport.encoder import FRAMING_HEADERS

__all__ = ["MAX_BODY_BYTES", "MAX_HEAD_BYTES", "ResponseReader", "ResponseRefused"]

# h11 allows 16 KiB of head by default; ours is wider for headers a real gateway adds.
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024


class ResponseRefused(Exception):
    """Raised inside a parser callback: the response breaks a limit or a rule."""


class ResponseReader:
    """``httptools`` parser callbacks collecting one final (non-1xx) response."""

    def __init__(
        self,
        head_request: bool,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = head_request
        self.max_head_bytes = max_head_bytes
        self.max_body_bytes = max_body_bytes
        self.head_bytes = 0  # of the status line and headers parsed
        self.head_received = 0  # bytes received while the head was not complete
        self.body_bytes = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.trailing = False  # bytes after the response: the connection is out of step

    def feed(self, data: bytes) -> None:
        """Parse ``data``; raises ``ResponseRefused`` when a check of ours refuses the
        response, ``httptools.HttpParserError`` when llhttp does."""
        if not self.headers_done:
            self.head_received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, ResponseRefused):
                raise exc.__context__ from None
            raise
        # llhttp keeps a header it has not finished in memory and calls back only once it
        # ends: a head that never ends is caught by the bytes received for it.
        if not self.headers_done and self.head_received > self.max_head_bytes:
            raise ResponseRefused(f"response head larger than {self.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        self.trailing = self.complete

    def on_status(self, status: bytes) -> None:
        self.reason += status
        self._count_head(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:  # chunked trailers are dropped, as h11 does
            self._count_head(len(name) + len(value) + 4)
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        for name, value in self.headers:
            if name.lower() == b"transfer-encoding" and value.strip().lower() != b"chunked":
                raise ResponseRefused(f"unsupported Transfer-Encoding {value!r}")
        # RFC 9110 §9.3.2: a response to HEAD has no body whatever its Content-Length says.
        if self.head_request and self.parser.get_status_code() >= 200:
            self.finish()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.trailing = True
            return
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body_bytes:
            raise ResponseRefused(f"response body larger than {self.max_body_bytes} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.parser.get_status_code() < 200:
            # RFC 9110 §15.2: interim 1xx responses precede the final one; skip them.
            self.reason, self.headers, self.headers_done = b"", [], False
            return
        self.finish()

    def finish(self) -> None:
        self.complete = True
        # llhttp resets its flags once the message is done: ask while they still hold.
        self.keep_alive = self.parser.should_keep_alive()

    def ends_at_close(self) -> bool:
        # RFC 9112 §6.3 rule 8: without Content-Length or Transfer-Encoding, the body runs
        # until the server closes the connection.
        return self.headers_done and not any(
            name.lower() in FRAMING_HEADERS for name, _ in self.headers
        )

    def reply(self) -> WireReply:
        headers: dict[str, str] = {}
        for name, value in self.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return WireReply(self.parser.get_status_code(), headers, b"".join(self.body))

    def response(self) -> httpx.Response:
        version = self.parser.get_http_version()
        return httpx.Response(
            self.parser.get_status_code(),
            headers=self.headers,
            content=b"".join(self.body),
            extensions={
                "http_version": f"HTTP/{version}".encode("ascii"),
                "reason_phrase": self.reason,
            },
        )

    def _count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.max_head_bytes:
            raise ResponseRefused(f"response head larger than {self.max_head_bytes} bytes")
