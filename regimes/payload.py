"""What the wire-family codecs share to read an answer: the value patterns of the rights blocks, and
a reader of JSON objects whose errors carry the path at fault.

Pure. A regime payload is untrusted input: ``JsonObject`` raises ``Malformed`` (where, why) and
the codec turns it into ``RegimeRejected`` in one place, ``malformed_as_rejected``. The sandbox
never imports this module: it reads each wire on its own, so that a misreading of the spec shows
up as a round-trip failure instead of being shared by both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import orjson

from rights.errors import RegimeRejected
from rights.model import Period, Qualite

__all__ = [
    "ACCIDENT_NUMBER",
    "CAISSE",
    "CENTRE",
    "CODE_GESTION",
    "ISO_DAY",
    "NATURE_PJ",
    "NIR",
    "REGIME_CODE",
    "SITUATION_CODE",
    "TM_CODE",
    "JsonObject",
    "Malformed",
    "decode_json",
    "encode_json",
    "malformed_as_rejected",
]

# Vitale group 101: régime 2 digits, caisse 3, centre 4 (domain.md §2); CDRi 03.05/03.07/03.10.
REGIME_CODE = re.compile(r"[0-9]{2}")
CAISSE = re.compile(r"[0-9]{3}")
CENTRE = re.compile(r"[0-9]{4}")
CODE_GESTION = re.compile(r"[0-9A-Z]{1,3}")
NATURE_PJ = re.compile(r"[0-9A-Z]{1,2}")
# Exonération (ETM) and modulation (MTM) codes.
TM_CODE = re.compile(r"[0-9]{1,2}")
# C2S 1/2 (managed by the caisse) or 3 (by a complementary body); AME 10.
SITUATION_CODE = re.compile(r"1|2|3|10")
ACCIDENT_NUMBER = re.compile(r"[0-9]{9}")
# NIR, NIA, MIG, NNP and MSA numbers share one layout; only Corsica puts letters in it.
NIR = re.compile(r"[0-9]{5}(?:[0-9][0-9]|2A|2B)[0-9]{6}(?:[0-9][0-9])?")
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Malformed(Exception):
    """The answer breaks the format at ``where``; the codec turns it into ``RegimeRejected``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


@contextmanager
def malformed_as_rejected(regime: str, wire: str) -> Iterator[None]:
    """``Malformed`` inside becomes ``RegimeRejected`` naming the ``wire`` format and the path."""
    try:
        yield
    except Malformed as exc:
        raise RegimeRejected(f"{regime}: malformed {wire} answer at {exc}", regime=regime) from exc


def encode_json(value: object) -> bytes:
    """A request body as JSON: compact, UTF-8 (the form httpx sends for ``json=``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def decode_json(body: bytes, regime: str) -> object:
    """The JSON document in ``body``; an unreadable body is a refusal, not an outage."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RegimeRejected(f"{regime}: answer is not JSON ({exc})", regime=regime) from exc


class JsonObject:
    """A JSON object being read, with its path (``$.beneficiaire``) for error messages.

    A key holding null reads as absent: the ``optional_*`` readers give None (or empty) for it.
    """

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise Malformed(path, f"expected an object, got {_kind(value)}")
        self._data: dict[str, object] = value
        self._path = path

    def where(self, key: str) -> str:
        return f"{self._path}.{key}"

    def value(self, key: str) -> object:
        if key not in self._data:
            raise Malformed(self.where(key), "missing")
        return self._data[key]

    def absent(self, key: str) -> bool:
        return self._data.get(key) is None

    def text(self, key: str) -> str:
        value = self.value(key)
        if not isinstance(value, str):
            raise Malformed(self.where(key), f"expected a string, got {_kind(value)}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.absent(key) else self.text(key)

    def filled(self, key: str) -> str:
        value = self.text(key)
        if not value.strip():
            raise Malformed(self.where(key), "empty")
        return value

    def code(self, key: str, pattern: re.Pattern[str]) -> str:
        value = self.text(key)
        if not pattern.fullmatch(value):
            raise Malformed(self.where(key), f"{value!r} does not match {pattern.pattern}")
        return value

    def optional_code(self, key: str, pattern: re.Pattern[str]) -> str | None:
        return None if self.absent(key) else self.code(key, pattern)

    def texts(self, key: str, *, optional: bool = False) -> tuple[str, ...]:
        if optional and self.absent(key):
            return ()
        value = self.value(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Malformed(self.where(key), f"expected a list of strings, got {_kind(value)}")
        return tuple(str(v) for v in value)

    def integer(self, key: str) -> int:
        value = self.value(key)
        # JSON true is a Python int: refuse it explicitly.
        if not isinstance(value, int) or isinstance(value, bool):
            raise Malformed(self.where(key), f"expected an integer, got {_kind(value)}")
        return value

    def qualite(self, key: str) -> Qualite:
        value = self.text(key)
        try:
            return Qualite(value)
        except ValueError:
            raise Malformed(self.where(key), f"not a qualité 00-09: {value!r}") from None

    def obj(self, key: str) -> JsonObject:
        return JsonObject(self.value(key), self.where(key))

    def optional_obj(self, key: str) -> JsonObject | None:
        return None if self.absent(key) else self.obj(key)

    def objects(self, key: str, *, optional: bool = False) -> list[JsonObject]:
        if optional and self.absent(key):
            return []
        value = self.value(key)
        if not isinstance(value, list):
            raise Malformed(self.where(key), f"expected a list, got {_kind(value)}")
        return [JsonObject(item, f"{self.where(key)}[{i}]") for i, item in enumerate(value)]

    def day(self, key: str) -> date:
        value = self.text(key)
        try:
            # fromisoformat alone also takes 20240101 and week dates; the format says YYYY-MM-DD.
            if ISO_DAY.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise Malformed(self.where(key), f"not a date YYYY-MM-DD: {value!r}")

    def optional_day(self, key: str) -> date | None:
        return None if self.absent(key) else self.day(key)

    def period(self, start: str, end: str) -> Period:
        """The period from the day in ``start`` to the one in ``end`` (absent: open-ended)."""
        first, last = self.day(start), self.optional_day(end)
        if last is not None and last < first:
            raise Malformed(self.where(end), f"period ends ({last}) before it starts ({first})")
        return Period(start=first, end=last)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
