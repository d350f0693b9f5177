"""JSON text stored deflated, with a dictionary of what the gateway's JSON has in common.

Measured (``python -m benchmarks.run --only footprint``, BENCHMARKS.md "Footprint"): the JSON
of the resources and rights a lookup stores was most of the bytes each lookup added to the
store. Each text is small (0.2 to 2 KB) and shares most of its words with the others (element
names, system URLs, extension URLs, reference prefixes): deflate alone halves it, deflate
primed with a dictionary of those words (RFC 1950 §2.2, FDICT) keeps about a sixth.

The stored bytes start with a format byte. ``0x01``: raw deflate primed with dictionary 1
(``json_dictionary_v1.txt``, which must never change: every row written with it needs it to be
read; a better dictionary is a new one, beside it). ``0x02``: dictionary 2
(``json_dictionary_v2.txt``, the audit trail's AuditEvents: a lookup's event of 2.5 KB keeps
about 270 bytes, deflated at level 1 in about 15 µs, measured; with dictionary 1 it kept 800
bytes in 30 µs). Anything else is the JSON's UTF-8 text
as it was stored before (migration 0006 turned the text columns into binary ones). Readers see
text either way: a client reads exactly what was written.
"""

from __future__ import annotations

import json
import zlib
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, LargeBinary, TypeDecorator

from cdr.storage.database import json_column_text

__all__ = ["PackedAuditText", "PackedJson", "PackedText", "pack", "pack_audit", "unpack"]

_DICTIONARY_1 = b"\x01"
_DICTIONARY_2 = b"\x02"
_WINDOW_BITS = -15  # raw deflate: the format byte says what the stream is, no zlib header
_LEVEL = 6  # measured: level 9 saved under 1 % more and took a third longer


@cache
def _dictionary(version: int) -> bytes:
    return Path(__file__).with_name(f"json_dictionary_v{version}.txt").read_bytes()


def pack(text: str) -> bytes:
    compressor = zlib.compressobj(
        _LEVEL, zlib.DEFLATED, _WINDOW_BITS, 9, zlib.Z_DEFAULT_STRATEGY, _dictionary(1)
    )
    return _DICTIONARY_1 + compressor.compress(text.encode()) + compressor.flush()


def pack_audit(text: str) -> bytes:
    """An AuditEvent's canonical JSON, deflated with the audit dictionary (format 2). Level 1:
    the trail is written with every lookup, and its dictionary already does most of the work."""
    compressor = zlib.compressobj(
        1, zlib.DEFLATED, _WINDOW_BITS, 9, zlib.Z_DEFAULT_STRATEGY, _dictionary(2)
    )
    return _DICTIONARY_2 + compressor.compress(text.encode()) + compressor.flush()


def unpack(stored: bytes | memoryview | str) -> str:
    """The text ``pack`` was given; a value stored before packing (text, or its UTF-8 bytes)
    as it is."""
    if isinstance(stored, str):
        return stored
    data = bytes(stored)
    version = {_DICTIONARY_1: 1, _DICTIONARY_2: 2}.get(data[:1])
    if version is None:
        return data.decode()
    decompressor = zlib.decompressobj(_WINDOW_BITS, _dictionary(version))
    return (decompressor.decompress(data[1:]) + decompressor.flush()).decode()


class PackedText(TypeDecorator[str]):
    """A text column stored packed (binary); read back as the text."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack(value)


class PackedAuditText(TypeDecorator[str]):
    """An AuditEvent's text stored packed with the audit dictionary; read back as the text."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_audit(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack(value)


class PackedJson(TypeDecorator[Any]):
    """A JSON column stored packed (binary): any JSON value in, the same value out, written
    as the engines write JSON (``json_column_text``). Python's None is SQL NULL."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else pack(json_column_text(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(unpack(value))
