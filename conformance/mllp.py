"""The kit's own MLLP client: one message out, its reply back, over a new connection.

Written for the kit rather than borrowed from ``hl7_listener``: the kit judges any MLLP peer,
ours among others, and must not share the code it is checking. MLLP release 1 (IHE ITI TF-2
C.2.1): ``0x0B`` message ``0x1C 0x0D``. Every way the exchange can fail becomes one
``ExchangeFailed`` with a sentence a tester can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from rights.errors import CdrError

__all__ = ["END", "START", "ExchangeFailed", "answer_frames", "mllp_exchange", "parse_address"]

START, END = b"\x0b", b"\x1c\x0d"
# Bytes read before giving up on a reply that never ends (a peer streaming garbage).
_MAX_REPLY = 4 * 1024 * 1024


class ExchangeFailed(CdrError):
    """The peer could not be reached, did not answer in time, or answered something that is
    no reply (the case fails with this message; the run goes on)."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:2575`` for IPv6) as a pair; ``ValueError`` otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


async def mllp_exchange(
    host: str, port: int, payload: bytes, *, timeout: float, tls: ssl.SSLContext | None = None
) -> bytes:
    """Send ``payload`` framed and return the first reply frame's content, over TLS when
    ``tls`` is given. The timeout bounds the connection and the wait for the reply, each."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls), timeout
        )
    except TimeoutError:
        raise ExchangeFailed(f"MLLP {host}:{port}: no connection within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise ExchangeFailed(
            f"MLLP {host}:{port}: the TLS handshake failed: {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise ExchangeFailed(f"MLLP {host}:{port}: cannot connect: {_reason(exc)}") from None
    try:
        writer.write(START + payload + END)
        await writer.drain()
        return await asyncio.wait_for(_read_frame(reader, host, port), timeout)
    except TimeoutError:
        raise ExchangeFailed(
            f"MLLP {host}:{port}: no reply within {timeout:g} s (the peer stayed silent)"
        ) from None
    except OSError as exc:
        raise ExchangeFailed(f"MLLP {host}:{port}: connection lost: {_reason(exc)}") from None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _read_frame(reader: asyncio.StreamReader, host: str, port: int) -> bytes:
    data = b""
    while END not in data:
        chunk = await reader.read(65536)
        if not chunk:
            raise ExchangeFailed(f"MLLP {host}:{port}: the peer closed the connection, no reply")
        data += chunk
        if len(data) > _MAX_REPLY:
            raise ExchangeFailed(f"MLLP {host}:{port}: reply over {_MAX_REPLY} bytes, no end")
    frame = data[: data.index(END)]
    start = frame.find(START)
    if start < 0:
        raise ExchangeFailed(f"MLLP {host}:{port}: reply without the 0x0B start byte")
    return frame[start + 1 :]


async def answer_frames(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    answer: Callable[[bytes], bytes],
    *,
    limit: int | None = None,
) -> None:
    """Serve one MLLP connection of the kit's simulators: each frame's content to ``answer``,
    its reply framed back, until the peer closes; with ``limit``, a peer that sends that many
    bytes without ending a frame is dropped. The connection is closed on the way out."""
    buffer = b""
    try:
        while chunk := await reader.read(65536):
            buffer += chunk
            if limit is not None and len(buffer) > limit:
                return  # a peer streaming garbage: dropped, as a channel would
            while END in buffer:
                frame, buffer = buffer.split(END, 1)
                start = frame.find(START)
                if start >= 0:
                    writer.write(START + answer(frame[start + 1 :]) + END)
                    await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the listener running on that port?)"
    return exc.strerror or str(exc) or type(exc).__name__
