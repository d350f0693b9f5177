"""The name pools the random part of the sandbox population draws from (``data/names.toml``)."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from rights.errors import ConfigError

__all__ = ["NamePool", "default_names"]


@dataclass(frozen=True, slots=True)
class NamePool:
    family: tuple[str, ...]
    male: tuple[str, ...]
    female: tuple[str, ...]
    doctors: tuple[tuple[str, str], ...]

    @classmethod
    def from_toml(cls, text: str) -> NamePool:
        try:
            data = tomllib.loads(text)
            pool = cls(
                family=tuple(str(n) for n in data["family"]),
                male=tuple(str(n) for n in data["male"]),
                female=tuple(str(n) for n in data["female"]),
                doctors=tuple((str(f), str(g)) for f, g in data["doctors"]),
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"sandbox name pools are not valid: {exc}") from exc
        if not (pool.family and pool.male and pool.female and pool.doctors):
            raise ConfigError("sandbox name pools must not be empty")
        return pool

    def given(self, sex: str) -> tuple[str, ...]:
        """Given names for a NIR sex digit (odd = man, even = woman)."""
        return self.male if int(sex) % 2 == 1 else self.female


@functools.cache
def default_names() -> NamePool:
    text = resources.files("sandbox").joinpath("data").joinpath("names.toml")
    return NamePool.from_toml(text.read_text(encoding="utf-8"))
