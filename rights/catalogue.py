"""The catalogue of CDR regimes, loaded from the versioned data file ``regimes.toml``.

Routing turns a régime code (IN1-3, Vitale group 101, ``Coverage.class``) and, where several
regimes share it (99), the centre into one regime of the catalogue.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rights.errors import ConfigError, UnknownRegimeError
from rights.identifiers import NirKind

__all__ = ["Regime", "RegimeCatalogue", "default_catalogue"]


@dataclass(frozen=True, slots=True)
class Regime:
    code: str
    label: str
    name: str
    grand_regimes: tuple[str, ...]
    example_caisse: str
    example_centre: str
    family: str
    returns_atmp: bool
    nir_kinds: frozenset[NirKind]
    centres: tuple[str, ...] = ()

    def serves(self, kind: NirKind) -> bool:
        return kind in self.nir_kinds


class RegimeCatalogue:
    """The regimes, in catalogue order, with lookup by code and routing by régime code."""

    def __init__(self, version: str, regimes: tuple[Regime, ...]) -> None:
        codes = [r.code for r in regimes]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ConfigError(f"regime catalogue lists {', '.join(duplicates)} twice")
        self.version = version
        self._regimes = regimes
        self._by_code = {r.code: r for r in regimes}

    @classmethod
    def from_toml(cls, text: str) -> RegimeCatalogue:
        try:
            data = tomllib.loads(text)
            return cls(str(data["version"]), tuple(_regime(entry) for entry in data["regime"]))
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"regime catalogue is not valid: {exc}") from exc

    def __iter__(self) -> Iterator[Regime]:
        return iter(self._regimes)

    def __len__(self) -> int:
        return len(self._regimes)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    @property
    def families(self) -> frozenset[str]:
        return frozenset(r.family for r in self._regimes)

    def get(self, code: str, *, location: str = "regime") -> Regime:
        """The regime with catalogue code ``code`` (any case); lists the valid ones if not."""
        regime = self._by_code.get(code.strip().lower())
        if regime is None:
            raise UnknownRegimeError(code, self.codes, location=location)
        return regime

    def route(self, regime_code: str, centre: str | None = None) -> Regime | None:
        """The regime managing a grand-régime code (and centre, for shared codes), if any.

        None means the code belongs to no CDR regime (e.g. 09 Banque de France): the caller
        falls back to discovery or reports it.
        """
        candidates = [r for r in self._regimes if regime_code in r.grand_regimes]
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        if centre:
            for regime in candidates:
                if centre.zfill(4) in regime.centres:
                    return regime
        return None

    def route_organisation(self, number: str) -> Regime | None:
        """Route a managing-organisation number as IN1-3 or Vitale group 101 carry it:
        régime (2) + caisse (3) + centre (4), spaces allowed ("01 751 0000")."""
        digits = "".join(number.split())
        if len(digits) != 9 or not digits.isdigit():
            return None
        return self.route(digits[:2], digits[5:])

    def serving(self, kind: NirKind) -> tuple[Regime, ...]:
        """The regimes discovery asks for a number of this kind."""
        return tuple(r for r in self._regimes if r.serves(kind))


def _regime(entry: Mapping[str, Any]) -> Regime:
    return Regime(
        code=str(entry["code"]),
        label=str(entry["label"]),
        name=str(entry["name"]),
        grand_regimes=tuple(str(g) for g in entry["grand_regimes"]),
        example_caisse=str(entry["example_caisse"]),
        example_centre=str(entry["example_centre"]),
        family=str(entry["family"]),
        returns_atmp=bool(entry["returns_atmp"]),
        nir_kinds=frozenset(NirKind(k) for k in entry["nir_kinds"]),
        centres=tuple(str(c) for c in entry.get("centres", ())),
    )


def default_catalogue() -> RegimeCatalogue:
    """The catalogue shipped with the package (reading package data, not the environment)."""
    text = resources.files("rights").joinpath("regimes.toml").read_text(encoding="utf-8")
    return RegimeCatalogue.from_toml(text)
