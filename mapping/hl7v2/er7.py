"""ER7, the pipe-and-hat encoding of HL7 v2: a small, fast message model.

Parsing only splits the text into segments; a segment splits its fields the first time one is
read, and a value is cut into repetition, component and subcomponent and unescaped only when
asked for. The MLLP intake parses every message, so nothing is done that no caller reads.

Numbering follows HL7 v2 ch.2: fields, components, repetitions and subcomponents count from 1,
and in MSH the field separator itself is MSH-1 and the encoding characters MSH-2.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import overload

from rights.errors import ParseError

__all__ = [
    "DEFAULT",
    "Delimiters",
    "Message",
    "Segment",
    "components",
    "escape",
    "field_location",
    "is_null",
    "repeated",
    "segment",
    "subcomponents",
    "unescape",
]

NULL = '""'  # HL7 v2 ch.2.5.3: the explicit null, "delete the value" (IHE ITI TF-2 C)


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators and escape character a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @classmethod
    def from_msh(cls, segment_text: str) -> Delimiters:
        """Read the delimiters from the text of an MSH segment."""
        if not segment_text.startswith("MSH"):
            raise ParseError("the message does not start with MSH", code=100, location="MSH")
        sep = segment_text[3:4]
        if not sep or sep.isalnum() or sep.isspace():
            raise ParseError(
                f"MSH-1 must be a punctuation character, got {sep!r}", code=102, location="MSH-1"
            )
        chars = segment_text[4:].split(sep, 1)[0]
        # HL7 v2.7 ch.2.5.4 adds a 5th encoding character, the truncation character (usually
        # "#"); we never truncate, so it is read past and ignored.
        declared = sep + chars[:4]
        if (
            len(chars) not in (4, 5)
            or len(set(declared)) != 5
            or any(c.isalnum() or c.isspace() for c in declared)
        ):
            raise ParseError(
                "MSH-2 must hold 4 distinct punctuation characters other than MSH-1 (and a "
                f"truncation character from v2.7), got {chars!r}",
                code=102,
                location="MSH-2",
            )
        if declared == "|^~\\&":
            return DEFAULT
        return cls(declared[0], declared[1], declared[2], declared[3], declared[4])

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as written in a message built with these delimiters."""
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT = Delimiters()


def is_null(value: str) -> bool:
    """The HL7 explicit null ``""`` (a sender asking to delete the value)."""
    return value == NULL


# ---------------------------------------------------------------------------------------------
# Escape sequences (HL7 v2 ch.2.7)


def unescape(text: str, d: Delimiters = DEFAULT) -> str:
    """Replace the escape sequences of ``text`` by what they stand for.

    ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` give the delimiters back; ``\\Xhh..\\`` hex bytes (UTF-8
    when they decode as such, else Latin-1); ``\\.br\\`` a line break. ``\\H\\``/``\\N\\``
    (highlighting on/off) are dropped. Anything else (``\\Zxx\\``, ``\\Cxxyy\\``, other
    formatting commands, an unterminated escape) is kept as written.
    """
    esc = d.escape
    if esc not in text:
        return text
    # Escape sequences do not nest (ch.2.7): between two escape characters is always a sequence,
    # so the odd-numbered pieces of a split are sequences, the even-numbered ones plain text.
    pieces = text.split(esc)
    out = [pieces[0]]
    last = len(pieces) - 1
    for i in range(1, last, 2):
        out.append(_expand(pieces[i], d))
        out.append(pieces[i + 1])
    if last % 2 == 1:  # an odd number of escape characters: the last one opens nothing
        out.append(esc + pieces[last])
    return "".join(out)


def _expand(sequence: str, d: Delimiters) -> str:
    known = {
        "F": d.field,
        "S": d.component,
        "T": d.subcomponent,
        "R": d.repetition,
        "E": d.escape,
        ".br": "\n",
        "H": "",  # highlighting on/off: presentation only
        "N": "",
    }.get(sequence)
    if known is not None:
        return known
    if sequence[:1] == "X" and len(sequence) > 1:
        try:
            raw = bytes.fromhex(sequence[1:])
        except ValueError:
            pass
        else:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
    return d.escape + sequence + d.escape


def escape(text: str, d: Delimiters = DEFAULT) -> str:
    """Escape the delimiters of ``text`` and write its line breaks as ``\\.br\\``."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_escape_table(d))


@functools.lru_cache(maxsize=16)
def _escape_table(d: Delimiters) -> dict[int, str]:
    e = d.escape
    return {
        ord(e): f"{e}E{e}",
        ord(d.field): f"{e}F{e}",
        ord(d.component): f"{e}S{e}",
        ord(d.subcomponent): f"{e}T{e}",
        ord(d.repetition): f"{e}R{e}",
        ord("\n"): f"{e}.br{e}",
    }


# ---------------------------------------------------------------------------------------------
# The model


class Segment:
    """One segment. ``text`` is kept as received; fields are split on first access."""

    __slots__ = ("_fields", "delimiters", "id", "text")

    def __init__(self, text: str, delimiters: Delimiters = DEFAULT) -> None:
        self.text = text
        self.delimiters = delimiters
        self.id = text[:3]
        self._fields: list[str] | None = None

    def __repr__(self) -> str:
        return f"Segment({self.text!r})"

    def _split(self) -> list[str]:
        fields = self.text.split(self.delimiters.field)
        if self.id == "MSH":
            # MSH-1 is the separator itself: insert it so that index n is field n everywhere.
            fields.insert(1, self.delimiters.field)
        self._fields = fields
        return fields

    @property
    def field_count(self) -> int:
        """The number of the last field present (trailing empty ones included)."""
        fields = self._fields if self._fields is not None else self._split()
        return len(fields) - 1

    def field(self, n: int) -> str:
        """Raw (still escaped) text of field ``n``; "" when absent."""
        if n < 1:
            raise ValueError(f"HL7 fields count from 1, got {n}")
        fields = self._fields if self._fields is not None else self._split()
        return fields[n] if n < len(fields) else ""

    def repetitions(self, n: int) -> list[str]:
        """Raw repetitions of field ``n``; [] when the field is empty."""
        raw = self.field(n)
        if not raw:
            return []
        if self.id == "MSH" and n <= 2:
            return [raw]
        return raw.split(self.delimiters.repetition)

    def value(
        self,
        n: int,
        component: int = 1,
        *,
        repetition: int = 1,
        subcomponent: int | None = None,
    ) -> str:
        """One value, unescaped; "" when absent. The HL7 null comes back as ``'""'``.

        Without ``subcomponent`` the whole component is returned, subcomponent separators
        included.
        """
        raw = self.field(n)
        if not raw:
            return ""
        d = self.delimiters
        if self.id == "MSH" and n <= 2:
            return raw  # the delimiters themselves: neither split nor unescaped
        raw = _nth(_nth(raw, d.repetition, repetition), d.component, component)
        if subcomponent is not None:
            raw = _nth(raw, d.subcomponent, subcomponent)
        return unescape(raw, d) if d.escape in raw else raw

    def encode(self) -> str:
        return self.text


def _nth(text: str, sep: str, n: int) -> str:
    if n == 1 and sep not in text:
        return text  # the common case: no split needed
    parts = text.split(sep)
    return parts[n - 1] if 0 < n <= len(parts) else ""


class _MshField:
    """A ``Message`` attribute reading MSH: the raw field, or one unescaped component of it."""

    __slots__ = ("component", "number")

    def __init__(self, number: int, component: int = 0) -> None:
        self.number = number
        self.component = component  # 0: the raw field

    @overload
    def __get__(self, message: None, owner: type[Message]) -> _MshField: ...
    @overload
    def __get__(self, message: Message, owner: type[Message]) -> str: ...
    def __get__(self, message: Message | None, owner: type[Message]) -> str | _MshField:
        if message is None:
            return self
        msh = message.segments[0]
        if self.component:
            return msh.value(self.number, self.component)
        return msh.field(self.number)


class Message:
    """A parsed message: its delimiters and its segments, in order."""

    __slots__ = ("delimiters", "segments")

    def __init__(self, segments: list[Segment], delimiters: Delimiters = DEFAULT) -> None:
        self.segments = segments
        self.delimiters = delimiters

    @classmethod
    def parse(cls, text: str) -> Message:
        """Split ``text`` into segments ended by CR, LF or CRLF; blank lines are skipped.

        HL7 v2 ch.2 ends segments with CR only; LF and CRLF come from files and engines that
        rewrote line ends, and cost nothing to accept.
        """
        if "\n" in text:
            text = text.replace("\r\n", "\r").replace("\n", "\r")
        if text[:1] == "\ufeff":  # a byte-order mark left by an editor or a UTF-8 decoder
            text = text[1:]
        lines = [line for line in text.split("\r") if line and not line.isspace()]
        if not lines:
            raise ParseError("the message is empty", code=100, location="MSH")
        d = Delimiters.from_msh(lines[0])
        sep = d.field
        segments = []
        for number, line in enumerate(lines, start=1):
            seg = Segment(line, d)
            sid = seg.id
            if not (
                len(sid) == 3
                and sid.isascii()
                and sid.isalnum()
                and sid.isupper()
                and (len(line) == 3 or line[3] == sep)
            ):
                raise ParseError(
                    f"segment {number} does not start with a segment id and a field separator: "
                    f"{line[:20]!r}",
                    code=100,
                    location="",
                )
            segments.append(seg)
        return cls(segments, d)

    def first(self, segment_id: str) -> Segment | None:
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        return None

    def all(self, segment_id: str) -> list[Segment]:
        return [seg for seg in self.segments if seg.id == segment_id]

    def encode(self) -> str:
        """The message as ER7, each segment ended by CR."""
        return "\r".join(seg.text for seg in self.segments) + "\r"

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    # MSH accessors. Sender and receiver are raw fields: they name the peer as it wrote itself.
    sending_application = _MshField(3)
    sending_facility = _MshField(4)
    receiving_application = _MshField(5)
    receiving_facility = _MshField(6)
    date_time = _MshField(7, 1)
    message_code = _MshField(9, 1)
    trigger = _MshField(9, 2)
    structure = _MshField(9, 3)
    control_id = _MshField(10, 1)
    processing_id = _MshField(11, 1)
    version = _MshField(12, 1)
    accept_ack_type = _MshField(15, 1)
    application_ack_type = _MshField(16, 1)
    charset = _MshField(18, 1)  # first repetition; "" means ASCII (HL7 table 0211)


# ---------------------------------------------------------------------------------------------
# Builders (values given to them are already escaped)


def segment(id: str, *fields: str, d: Delimiters = DEFAULT) -> str:
    """``id`` and ``fields`` joined by the field separator, trailing empty fields trimmed.

    For MSH the fields start at MSH-2 (the encoding characters): MSH-1 is the separator.
    """
    return _joined(d.field, (id, *fields))


def _joined(sep: str, parts: tuple[str, ...]) -> str:
    end = len(parts)
    while end and not parts[end - 1]:
        end -= 1
    return sep.join(parts[:end])


def components(*parts: str, d: Delimiters = DEFAULT) -> str:
    """Components joined by ``^``, trailing empty ones trimmed."""
    return _joined(d.component, parts)


def subcomponents(*parts: str, d: Delimiters = DEFAULT) -> str:
    """Subcomponents joined by ``&``, trailing empty ones trimmed."""
    return _joined(d.subcomponent, parts)


def repeated(*values: str, d: Delimiters = DEFAULT) -> str:
    """Repetitions joined by ``~``, empty ones left out."""
    return d.repetition.join(v for v in values if v)


def field_location(
    segment_id: str,
    field: int,
    *,
    occurrence: int = 1,
    repetition: int = 1,
    component: int | None = None,
    subcomponent: int | None = None,
) -> str:
    """A location as errors carry it: ``SEG[#n]-field[(rep)][.comp[.sub]]``, e.g. ``PID-3(2).1``."""
    seg = segment_id if occurrence <= 1 else f"{segment_id}#{occurrence}"
    rep = f"({repetition})" if repetition > 1 else ""
    comp = "" if component is None else f".{component}"
    sub = "" if component is None or subcomponent is None else f".{subcomponent}"
    return f"{seg}-{field}{rep}{comp}{sub}"
