"""Encoding one whole HTTP/1.1 request, refusing what would change its meaning on the wire.

The checks are h11's (RFC 9110 §5.1, §5.5, §9.1; RFC 9112 §3.2): the method and every header name
are tokens, no header value holds a NUL, CR or LF, and the request target is visible ASCII (no
whitespace, control or non-ASCII character). A bad request never reaches the socket: it is
refused as ``httpx.LocalProtocolError`` before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import httpx

__all__ = ["FRAMING_HEADERS", "check_target", "encode", "method_bytes", "request_bytes"]

FRAMING_HEADERS = (b"content-length", b"transfer-encoding")

# RFC 9110 §5.6.2: token = 1*tchar.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9112 §3.2, RFC 3986: the target is a run of visible ASCII characters (anything else is
# percent-encoded); a space would end it early.
_BAD_TARGET = re.compile(r"[^\x21-\x7e]")
# The few names and methods the regime calls use are checked once, not on every call.
_CHECKED_TOKENS: set[bytes] = set()


def _is_token(value: bytes) -> bool:
    if value in _CHECKED_TOKENS:
        return True
    if _TOKEN.fullmatch(value) is None:
        return False
    if len(_CHECKED_TOKENS) < 1024:  # bounded: names a caller makes up cannot grow it forever
        _CHECKED_TOKENS.add(value)
    return True


def method_bytes(method: str, request: httpx.Request | None = None) -> bytes:
    """``method`` as it goes on the wire, refused unless it is a token."""
    encoded = method.encode("latin-1", errors="replace")  # "?" is no tchar: refused below
    if not _is_token(encoded):
        raise httpx.LocalProtocolError(f"illegal method {method!r}", request=request)
    return encoded


def check_target(target: str, request: httpx.Request | None = None) -> None:
    if not target or _BAD_TARGET.search(target) is not None:
        raise httpx.LocalProtocolError(f"illegal request target {target!r}", request=request)


def request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """An httpx request as it goes on the wire (httpx has encoded its URL already)."""
    method = method_bytes(request.method, request)
    start = b"%s %s HTTP/1.1" % (method, request.url.raw_path)
    return encode(start, request.headers.raw, request.url.netloc, body, request=request)


def encode(
    start: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    host: bytes,
    body: bytes,
    *,
    framed: bool = False,
    request: httpx.Request | None = None,
) -> bytes:
    """One whole HTTP/1.1 request: ``start`` line, ``headers``, ``Host`` unless they name one,
    and ``Content-Length`` when there is a body (or ``framed``: the caller declared one)."""
    lines = [start]
    has_host = False
    for name, value in headers:
        if not _is_token(name):
            raise httpx.LocalProtocolError(f"illegal header name {name!r}", request=request)
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise httpx.LocalProtocolError(f"illegal value of header {name!r}", request=request)
        lowered = name.lower()
        if lowered in FRAMING_HEADERS:
            framed = True  # replaced below: the body is fully read, its length is known
            continue
        has_host = has_host or lowered == b"host"
        lines.append(b"%s: %s" % (name, value))
    if not has_host:
        lines.append(b"Host: " + host)
    if body or framed:
        lines.append(b"Content-Length: %d" % len(body))
    lines += (b"", body)
    return b"\r\n".join(lines)
