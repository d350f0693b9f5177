"""The character sets we write results in, and how a character the set lacks is written.

A result is a new message, not an ACK: it is written in a set that holds every name, ISO
8859/15 by default (PAM FR 2.11.2 §6.1) or UTF-8, and MSH-18 says which. Where a destination is
configured for a narrower set (ASCII, 8859/1), a character the set cannot hold is written as an
HL7 hex escape of its UTF-8 bytes (``\\XC3A9\\`` for é, HL7 v2.5 §2.7.2), never as a silent
``?``; our own reader (``mapping.er7.unescape``) and the ANS samples read it back so.
"""

from __future__ import annotations

from mapping.er7 import Delimiters

__all__ = ["RESULT_CHARSETS", "encode_escaped", "encode_result"]

# MSH-18 (HL7 table 0211, PAM FR 2.11.2 §6.1 spellings) → Python codec.
RESULT_CHARSETS: dict[str, str] = {
    "8859/15": "iso8859_15",
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "ASCII": "ascii",
}


def encode_result(text: str, charset_field: str, d: Delimiters) -> bytes:
    """``text`` in the codec of ``charset_field`` (a key of ``RESULT_CHARSETS``), every
    character it lacks written ``<esc>Xhh..<esc>``."""
    return encode_escaped(text, RESULT_CHARSETS[charset_field], d)


def encode_escaped(text: str, codec: str, d: Delimiters) -> bytes:
    """``text`` in the Python ``codec``, every character it lacks written as an HL7 hex escape
    of its UTF-8 bytes in the escape character of ``d``."""
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for char in text:
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            out.append(f"{d.escape}X{char.encode('utf-8').hex().upper()}{d.escape}")
        else:
            out.append(char)
    return "".join(out).encode(codec)
