"""The exception tree drawn in ``rights/errors.py`` is the real one: every subclass of
``CdrError`` in every package is drawn, under its real parent, and nothing drawn is missing."""

from __future__ import annotations

import importlib
import pkgutil
import re

import rights.errors
from rights.errors import CdrError

PACKAGES = (
    "rights",
    "mapping",
    "regimes",
    "sandbox",
    "fhir_server",
    "hl7_listener",
    "card",
    "conformance",
    "cdr",
)
_NODE = re.compile(r"^(?P<indent>[\s│]*)(?:[├└]── )?(?P<name>[A-Z][A-Za-z]+)\b")


def _drawn() -> dict[str, str | None]:
    """Each class of the drawing with its parent (None for the root)."""
    doc = rights.errors.__doc__ or ""
    lines = [line[4:] for line in doc.splitlines() if line.startswith("    ") and line.strip()]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        match = _NODE.match(line)
        assert match is not None, line
        depth = match.start("name")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def _real() -> dict[str, str | None]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if ".migrations" in info.name:  # Alembic scripts are not importable modules
                continue
            importlib.import_module(info.name)
    parents: dict[str, str | None] = {"CdrError": None}
    pending = [CdrError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith(PACKAGES):
                parents[sub.__name__] = cls.__name__
                pending.append(sub)
    return parents


def test_the_drawn_tree_is_the_real_tree() -> None:
    drawn, real = _drawn(), _real()
    assert sorted(set(real) - set(drawn)) == [], "classes missing from the drawing"
    assert sorted(set(drawn) - set(real)) == [], "drawn classes that do not exist"
    assert drawn == real


def test_the_drawing_reader_sees_depth() -> None:
    drawn = _drawn()
    assert drawn["CdrError"] is None
    assert drawn["IdentifierKeyError"] == "IdentifierError"
    assert drawn["RequesterRefused"] == "RegimeRejected"
    assert drawn["ConfigError"] == "CdrError"
