"""MLLP framing (HL7 MLLP release 1): ``<SB> payload <EB><CR>`` with SB 0x0B, EB 0x1C, CR 0x0D.

``MllpDecoder`` turns the bytes of a stream, as they arrive, into whole frames. It is a pure
state machine (no I/O) shared by the server and the client.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END", "HEAD_BYTES", "START", "Frame", "MllpDecoder", "Oversized", "frame"]

START = b"\x0b"
END = b"\x1c\x0d"
# How much of a too-large message is kept: enough for any real MSH, so that the router can
# still read MSH-10 and answer the sender with an AE instead of leaving it waiting.
HEAD_BYTES = 1024

_SB = 0x0B
_EB = b"\x1c"
_CR = 0x0D


def frame(payload: bytes) -> bytes:
    """The payload wrapped in an MLLP block."""
    return START + payload + END


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete message as it arrived between SB and EB."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Oversized:
    """A message larger than the limit: only its first ``HEAD_BYTES`` were kept."""

    head: bytes


class MllpDecoder:
    """Splits a byte stream into ``Frame`` and ``Oversized`` items.

    - A frame may arrive in any number of pieces, and one piece may hold several frames.
    - Bytes outside a frame (between EB and the next SB) are junk: skipped and counted in
      ``skipped_bytes``.
    - A SB inside a frame means the sender gave up on that frame and started again (MLLP data
      bytes are > 0x1F or CR, so a SB can never be data): the partial frame counts as skipped.
    - The frame ends at EB; the CR that must follow it is consumed. A missing CR is tolerated
      (the next byte is then read as if outside a frame) rather than holding the frame back.
    - A payload longer than ``max_message_bytes`` is not buffered: its head is kept, the rest is
      counted and dropped, and one ``Oversized`` is returned when its EB arrives.
    """

    __slots__ = (
        "_after_end",
        "_discarding",
        "_frame_length",
        "_head",
        "_in_frame",
        "_max",
        "_parts",
        "skipped_bytes",
    )

    def __init__(self, max_message_bytes: int) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be positive")
        self._max = max_message_bytes
        self._in_frame = False
        self._after_end = False  # an EB ended the last read: a CR may start the next one
        self._parts: list[bytes] = []  # pieces of the current frame (joined once, at EB)
        self._frame_length = 0  # payload bytes seen in the current frame, kept or not
        self._discarding = False  # the current frame went over the limit
        self._head = bytearray()  # the kept start of an oversized frame
        self.skipped_bytes = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for the frame in progress (never more than the limit)."""
        return sum(len(part) for part in self._parts)

    @property
    def in_frame(self) -> bool:
        """True while a frame has started and its EB has not arrived yet."""
        return self._in_frame

    def feed(self, data: bytes) -> list[Frame | Oversized]:
        items: list[Frame | Oversized] = []
        size = len(data)
        pos = 0
        if self._after_end and size:
            self._after_end = False
            if data[0] == _CR:
                pos = 1
        while pos < size:
            if not self._in_frame:
                start = data.find(START, pos)
                if start < 0:
                    self.skipped_bytes += size - pos
                    break
                self.skipped_bytes += start - pos
                self._begin()
                pos = start + 1
                continue
            end = data.find(_EB, pos)
            limit = size if end < 0 else end
            restart = data.find(START, pos, limit)
            if restart >= 0:
                # the abandoned frame: its SB, what came before and what came now
                self.skipped_bytes += 1 + self._frame_length + (restart - pos)
                self._begin()
                pos = restart + 1
                continue
            self._take(data, pos, limit)
            if end < 0:
                break
            items.append(self._finish())
            pos = end + 1
            if pos < size:
                if data[pos] == _CR:
                    pos += 1
            else:
                self._after_end = True
        return items

    def _begin(self) -> None:
        self._in_frame = True
        self._parts.clear()
        self._frame_length = 0
        self._discarding = False
        self._head.clear()

    def _take(self, data: bytes, pos: int, limit: int) -> None:
        count = limit - pos
        if count <= 0:
            return
        self._frame_length += count
        if not self._discarding and self._frame_length > self._max:
            self._discarding = True
            for part in self._parts:
                self._head += part[: HEAD_BYTES - len(self._head)]
            self._parts.clear()
        if self._discarding:
            missing = HEAD_BYTES - len(self._head)
            if missing > 0:
                self._head += data[pos : min(limit, pos + missing)]
            return
        if pos == 0 and limit == len(data):
            self._parts.append(data)
        else:
            self._parts.append(data[pos:limit])

    def _finish(self) -> Frame | Oversized:
        self._in_frame = False
        if self._discarding:
            item: Frame | Oversized = Oversized(bytes(self._head))
        elif len(self._parts) == 1:
            item = Frame(self._parts[0])
        else:
            item = Frame(b"".join(self._parts))
        self._parts.clear()
        self._head.clear()
        self._discarding = False
        self._frame_length = 0
        return item
