"""The CDRi-shaped blocks that the cnam (JSON) and msa (SOAP) wires both carry, read once.

Both formats name their fields after CDRi 03.01-03.10 (``dateDebut``/``dateFin``, ``codeRegime``,
``caisse``, ``centre``, ``qualite``) and check them alike; only the way a field is fetched differs.
Each codec passes its own block reader, which also words the error's location its own way.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Protocol

from regimes.payload import CAISSE, CENTRE, REGIME_CODE
from rights.errors import RegimeRejected
from rights.model import ManagingOrganisation, Period, Qualite

__all__ = ["Block", "organisation", "period", "qualite"]

_QUALITES = frozenset(q.value for q in Qualite)


class Block(Protocol):
    """A block of a CDRi-shaped answer as a codec reads it: a JSON object or an XML element."""

    def text(self, key: str, /) -> str: ...

    def code(self, key: str, pattern: re.Pattern[str], /) -> str: ...

    def day(self, key: str, /) -> date: ...

    def optional_day(self, key: str, /) -> date | None: ...

    def error(self, key: str, what: str, /) -> RegimeRejected: ...


def period(block: Block) -> Period:
    """``dateDebut`` to ``dateFin`` (absent: open-ended), never ending before it starts."""
    start, end = block.day("dateDebut"), block.optional_day("dateFin")
    if end is not None and end < start:
        raise block.error("dateFin", f"{end} is before dateDebut {start}")
    return Period(start=start, end=end)


def qualite(block: Block) -> Qualite:
    value = block.text("qualite")
    if value not in _QUALITES:
        raise block.error("qualite", f"expected a code 00-09, got {value!r}")
    return Qualite(value)


def organisation(block: Block, regime: str) -> ManagingOrganisation:
    """The managing organisation; ``regime`` is the catalogue code (the wire does not carry it)."""
    return ManagingOrganisation(
        regime_code=block.code("codeRegime", REGIME_CODE),
        caisse=block.code("caisse", CAISSE),
        centre=block.code("centre", CENTRE),
        code_gestion=block.text("codeGestion"),
        cdr_regime=regime,
    )
