"""The terms of use (CGU): a committed, versioned text (``data/cgu.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

__all__ = ["Terms", "load_terms"]


@dataclass(frozen=True, slots=True)
class Terms:
    version: str
    title: str
    sections: tuple[tuple[str, str], ...]  # (heading, text)


def load_terms(text: str | None = None) -> Terms:
    source = text or resources.files("fhir_server.portal").joinpath("data/cgu.toml").read_text(
        encoding="utf-8"
    )
    data = tomllib.loads(source)
    return Terms(
        version=str(data["version"]),
        title=str(data["title"]),
        sections=tuple((str(s["heading"]), str(s["text"])) for s in data["section"]),
    )
