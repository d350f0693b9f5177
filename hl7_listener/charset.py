"""Character sets of HL7 v2 messages, named by MSH-18 (HL7 table 0211): the reading side is
``mapping.hl7v2.inbound_charset`` (re-exported here), the writing of ACKs and RPIs is here."""

from __future__ import annotations

from mapping.hl7v2.charset import encode_with_hex_escapes
from mapping.hl7v2.inbound_charset import (
    codec_for,
    decode,
    error_location,
    hl7_name,
    sniff_charset_field,
)
from rights.errors import FramingError

__all__ = ["codec_for", "decode", "encode", "error_location", "hl7_name", "sniff_charset_field"]


def encode(text: str, codec: str) -> bytes:
    """The message ``text`` (starting with its MSH) in the codec.

    A character the codec cannot hold (a French ERR-8 text in an ASCII ACK, an ellipsis in
    Latin-1) is written as the HL7 hexadecimal escape of its UTF-8 bytes, ``\\Xhh…\\`` with the
    message's escape character (HL7 v2.5 ch.2.7.2; ``mapping.hl7v2.er7.unescape`` reads it back), so
    that no text is silently lost. Only a message declaring no escape character in MSH-2 gets
    ``?`` for such a character.
    """
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return _encode_escaping(text, codec)
    except LookupError:
        raise FramingError(
            f"unknown character set {codec!r}", code=103, location="MSH-18"
        ) from None


def _encode_escaping(text: str, codec: str) -> bytes:
    escape = _escape_character(text)
    if escape is None:
        return text.encode(codec, errors="replace")
    return encode_with_hex_escapes(text, codec, escape)


def _escape_character(text: str) -> str | None:
    """MSH-2's third character (``MSH|^~\\&``: ``\\``), or None when the text declares none."""
    if not text.startswith("MSH") or len(text) < 7:
        return None
    separator, escape = text[3], text[6]
    if escape == separator or escape.isalnum() or escape.isspace() or not escape.isascii():
        return None
    return escape
