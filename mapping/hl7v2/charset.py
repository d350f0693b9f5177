"""The character sets we write results in, and how a character the set lacks is written.

A result is a new message, not an ACK: it is written in a set that holds every name, ISO
8859/15 by default (PAM FR 2.11.2 §6.1) or UTF-8, and MSH-18 says which. Where a destination is
configured for a narrower set (ASCII, 8859/1), a character the set cannot hold is written as an
HL7 hex escape of its UTF-8 bytes (``\\XC3A9\\`` for é, HL7 v2.5 §2.7.2), never as a silent
``?``; our own reader (``mapping.hl7v2.er7.unescape``) and the ANS samples read it back so.
"""

from __future__ import annotations

from mapping.hl7v2.er7 import Delimiters

__all__ = ["RESULT_CHARSETS", "encode_escaped", "encode_result", "encode_with_hex_escapes"]

# MSH-18 (HL7 table 0211, PAM FR 2.11.2 §6.1 spellings) → Python codec.
RESULT_CHARSETS: dict[str, str] = {
    "8859/15": "iso8859_15",
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "ASCII": "ascii",
}

# Characters of Latin-1 whose code points ISO 8859-15 gave to €, Š, š, Ž, ž, Œ, œ, Ÿ.
_LATIN1_ONLY = "\u00a4\u00a6\u00a8\u00b4\u00b8\u00bc\u00bd\u00be"


def encode_result(text: str, charset_field: str, d: Delimiters) -> bytes:
    """``text`` in the codec of ``charset_field`` (a key of ``RESULT_CHARSETS``), every
    character it lacks written ``<esc>Xhh..<esc>``."""
    return encode_escaped(text, RESULT_CHARSETS[charset_field], d)


def encode_escaped(text: str, codec: str, d: Delimiters) -> bytes:
    """``text`` in the Python ``codec``, every character it lacks written as an HL7 hex escape
    of its UTF-8 bytes in the escape character of ``d``."""
    if codec == "iso8859_15" and not any(c in text for c in _LATIN1_ONLY):
        # Python's 8859-15 codec is a charmap, ~100 times slower than Latin-1's; both give the
        # same bytes for text free of the 8 Latin-1 characters 8859-15 replaced (a result is on
        # the benchmarked path).
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass  # a character above U+00FF (€, œ …): the charmap codec decides
    return encode_with_hex_escapes(text, codec, d.escape)


def encode_with_hex_escapes(text: str, codec: str, escape: str) -> bytes:
    """``text`` in the Python ``codec``; each run of characters it lacks written as one HL7 hex
    escape of their UTF-8 bytes, ``<escape>Xhh…<escape>`` (HL7 v2.5 §2.7.2). The one writer of
    these escapes: results here, ACKs and RPIs through ``hl7_listener.charset``."""
    parts: list[bytes] = []
    rest = text
    while rest:
        try:
            parts.append(rest.encode(codec))
            break
        except UnicodeEncodeError as exc:
            parts.append(rest[: exc.start].encode(codec))
            hexdigits = rest[exc.start : exc.end].encode("utf-8").hex().upper()
            parts.append(f"{escape}X{hexdigits}{escape}".encode("ascii"))
            rest = rest[exc.end :]
    return b"".join(parts)
