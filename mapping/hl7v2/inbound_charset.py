"""Character sets of inbound HL7 v2 messages, named by MSH-18 (HL7 table 0211): which codec
reads a message, and where a byte it cannot read sits.

IHE France (ITI TF-4 §4.1.1.1) requires 8859/1 and 8859/15; ASCII is the default when MSH-18 is
empty; the ANS samples use ``UNICODE UTF-8``. Values are matched ignoring case and surrounding
spaces, and a few spellings engines are known to write are accepted too (``ISO-8859-1``,
``ISO_IR 100`` as DICOM names it, ``UTF-8`` …): one dictionary look-up, no cost on the hot path.

Pure (bytes in, text or an error out): the MLLP listener decodes with it, and the conformance
kit's validator reads a tester's file by the same rules (``hl7_listener.charset`` writes ACKs).
"""

from __future__ import annotations

from rights.errors import FramingError

__all__ = ["codec_for", "decode", "error_location", "hl7_name", "sniff_charset_field"]

_ASCII, _LATIN_1, _LATIN_9, _UTF_8 = "ascii", "latin-1", "iso8859-15", "utf-8"

_CODECS: dict[str, str] = {
    # table 0211
    "": _ASCII,
    "ASCII": _ASCII,
    "8859/1": _LATIN_1,
    "8859/15": _LATIN_9,
    "UNICODE UTF-8": _UTF_8,
    # other spellings seen in the wild
    "US-ASCII": _ASCII,
    "ISO-8859-1": _LATIN_1,
    "ISO8859-1": _LATIN_1,
    "LATIN-1": _LATIN_1,
    "ISO_IR 100": _LATIN_1,
    "ISO-8859-15": _LATIN_9,
    "ISO8859-15": _LATIN_9,
    "ISO_IR 203": _LATIN_9,
    "UTF-8": _UTF_8,
    "UTF8": _UTF_8,
    "ISO_IR 192": _UTF_8,
}

_HL7_NAMES = {_ASCII: "ASCII", _LATIN_1: "8859/1", _LATIN_9: "8859/15", _UTF_8: "UNICODE UTF-8"}

_SEGMENT_ENDS = b"\r\n"
_MSH18 = 17  # index of MSH-18 once the segment is split on the field separator (MSH-1 is it)


def codec_for(msh18: str) -> str:
    """The Python codec for an MSH-18 value; raise ``FramingError`` (103 at MSH-18) if unknown."""
    codec = _CODECS.get(msh18.strip().upper())
    if codec is None:
        raise FramingError(
            f"character set {msh18!r} in MSH-18 is not supported "
            "(ASCII, 8859/1, 8859/15 or UNICODE UTF-8)",
            code=103,
            location="MSH-18",
        )
    return codec


def hl7_name(codec: str) -> str:
    """The table 0211 name of a codec returned by ``codec_for``."""
    return _HL7_NAMES.get(codec, codec)


def sniff_charset_field(raw: bytes) -> str:
    """The first repetition of MSH-18, read from the raw bytes before decoding them.

    MSH up to MSH-18 is ASCII whatever the charset, so it can be read first. Returns "" when the
    message does not start with a readable MSH or MSH-18 is empty or not ASCII.
    """
    start = _message_start(raw)
    if raw[start : start + 3] != b"MSH" or len(raw) < start + 8:
        return ""
    separator = raw[start + 3 : start + 4]
    end = _segment_end(raw, start)
    fields = raw[start:end].split(separator, _MSH18 + 1)
    if len(fields) <= _MSH18:
        return ""
    value = fields[_MSH18]
    repetition = raw[start + 5 : start + 6]  # MSH-2 is component, repetition, escape, sub
    if repetition and repetition != separator:
        value = value.split(repetition, 1)[0]
    try:
        return value.decode("ascii").strip()
    except UnicodeDecodeError:
        return ""


def decode(raw: bytes, codec: str) -> str:
    """The message text; a byte the charset cannot read raises ``FramingError`` (102) naming the
    byte, where it is (``SEG[#n]-field``) and the charset."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        location = error_location(raw, exc.start)
        where = f" at {location}" if location else ""
        raise FramingError(
            f"byte 0x{byte:02X}{where} is not valid {hl7_name(codec)}",
            code=102,
            location=location,
        ) from None
    except LookupError:
        raise FramingError(
            f"unknown character set {codec!r}", code=103, location="MSH-18"
        ) from None


def error_location(raw: bytes, offset: int) -> str:
    """``SEG[#n]-field`` of the byte at ``offset``, computed from the bytes before it.

    Segments end at CR or LF (blank lines are not segments); fields are split on the field
    separator, byte 3 of the message. MSH counts MSH-1 as the separator itself, so its fields are
    numbered one higher. "" when the byte is inside a segment's name.
    """
    start = _message_start(raw)
    separator = raw[start + 3 : start + 4] if raw[start : start + 3] == b"MSH" else b"|"
    separator = separator or b"|"
    segment_start = max(raw.rfind(b"\r", 0, offset), raw.rfind(b"\n", 0, offset)) + 1
    if offset - segment_start < 3:
        return ""
    prefix = raw[segment_start:offset]
    name = prefix[:3]
    if len(name) != 3 or not name.isalnum():
        return ""
    seps = prefix.count(separator)
    field = seps + 1 if name == b"MSH" else seps
    earlier = raw[start:segment_start].replace(b"\n", b"\r").split(b"\r")
    ordinal = 1 + sum(
        1 for segment in earlier if segment[:3] == name and segment[3:4] in (separator, b"")
    )
    text = name.decode("ascii")
    if ordinal > 1:
        text += f"#{ordinal}"
    return f"{text}-{field}" if field else text


def _message_start(raw: bytes) -> int:
    index = 0
    while index < len(raw) and raw[index] in _SEGMENT_ENDS:
        index += 1
    return index


def _segment_end(raw: bytes, start: int) -> int:
    ends = [i for i in (raw.find(b"\r", start), raw.find(b"\n", start)) if i >= 0]
    return min(ends) if ends else len(raw)
