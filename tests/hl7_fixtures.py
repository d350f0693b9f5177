"""The committed HL7 fixtures (tests/fixtures/hl7) and what their manifest says of each ACK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mapping.hl7v2.er7 import Delimiters, Message
from mapping.hl7v2.err import erl

FIXTURES = Path(__file__).parent / "fixtures" / "hl7"
MANIFEST: list[dict[str, Any]] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def entry_for(name: str) -> dict[str, Any]:
    return next(e for e in MANIFEST if e["file"] == name)


def assert_err_matches(ack: Message, entry: dict[str, Any]) -> None:
    """The ACK's ERR is the one the manifest expects: table 0357 code, ERL location, severity
    and a message for a human; no ERR at all for an AA."""
    err = ack.first("ERR")
    if entry["err_code"] is None:
        assert err is None
        return
    assert err is not None
    assert err.value(3, 1) == str(entry["err_code"])
    assert err.value(3, 3) == "HL70357"
    assert err.value(4) == "E"
    if entry["err_location"] not in (None, "MSH"):
        assert err.field(2) == erl(entry["err_location"], Delimiters())
    assert err.value(8), "ERR-8 carries a human-readable message"
