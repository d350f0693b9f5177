"""Each package names its entry points in ``__all__``: every name there resolves, and is
defined in that package (a surface that re-exports a neighbour's name would blur the layers)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = (
    "rights",
    "mapping",
    "mapping.hl7v2",
    "mapping.fhir",
    "regimes",
    "sandbox",
    "fhir_server",
    "hl7_listener",
    "card",
    "conformance",
    "cdr",
    "cdr.storage",
)
# Packages with entry points to show (mapping only holds the two independent mappings).
WITH_ENTRY_POINTS = {"rights", "mapping.hl7v2", "mapping.fhir", "sandbox", "fhir_server"}
WITH_ENTRY_POINTS |= {"hl7_listener", "card", "conformance", "cdr", "cdr.storage"}


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_is_the_package_own(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert sorted(exported) == list(exported), f"{name}.__all__ unsorted"
    if name in WITH_ENTRY_POINTS:
        assert exported, f"{name} names no entry point"
    root = name.split(".")[0]
    for symbol in exported:
        value = getattr(package, symbol)
        home = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        assert home.split(".")[0] == root, f"{name}.{symbol} comes from {home}"


def test_the_application_package_loads_nothing_on_import() -> None:
    # `cdr --help` stays fast: importing the package imports no adapter or server library.
    probe = "import sys, cdr; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    probe += "{'fhir_server', 'hl7_listener', 'regimes', 'sandbox', 'uvicorn', 'sqlalchemy'}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    from cdr import Settings, build_gateway, main

    assert Settings.__module__ == "cdr.settings"
    assert build_gateway.__module__ == "cdr.bootstrap" and main.__module__ == "cdr.cli"
