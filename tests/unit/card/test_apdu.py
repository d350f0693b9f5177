"""Command APDUs are built byte for byte as the committed fixtures say, and response status
words become our errors (tries left, blocked, what was refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from card import apdu
from card.cps import CpxSession
from card.errors import CardStatusError, PinBlocked, WrongPin

FIXTURES = Path(__file__).parents[2] / "fixtures" / "card"


def _load(name: str) -> dict[str, Any]:
    cases = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    cases.pop("_comment", None)
    return cases


COMMANDS = _load("commands.json")
RESPONSES = _load("responses.json")


def _argument(value: object) -> object:
    if isinstance(value, str) and value and all(c in "0123456789abcdefABCDEF" for c in value):
        return bytes.fromhex(value) if len(value) > 8 or not value.isdigit() else value
    return value


@pytest.mark.parametrize("name", sorted(COMMANDS), ids=sorted(COMMANDS))
def test_commands_are_built_as_the_fixture_says(name: str) -> None:
    case = COMMANDS[name]
    builder = getattr(apdu, f"apdu_{case['build']}")
    assert builder(*[_argument(a) for a in case["args"]]) == bytes.fromhex(case["hex"])


@pytest.mark.parametrize("name", sorted(RESPONSES), ids=sorted(RESPONSES))
def test_status_words_become_our_errors(name: str) -> None:
    case = RESPONSES[name]
    response = apdu.Response.parse(bytes.fromhex(case["hex"]))
    if case.get("ok"):
        assert apdu.check(response, "x").data == bytes.fromhex(case["data"])
        return
    with pytest.raises(CardStatusError) as caught:
        apdu.check(response, "reading the certificate")
    error = caught.value
    assert type(error).__name__ == case["error"]
    if isinstance(error, WrongPin):
        assert error.tries_left == case["tries_left"]
        assert f"{case['tries_left']} tr" in error.message
    elif isinstance(error, PinBlocked):
        assert "blocked" in error.message
    else:
        assert error.sw == int(case["sw"], 16)
        assert "reading the certificate" in error.message and case["sw"] in error.message


def test_a_scripted_exchange_follows_61xx_and_reads_the_file() -> None:
    trace = json.loads((FIXTURES / "session-read-serial.json").read_text(encoding="utf-8"))
    script = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in trace["exchanges"]]
    sent: list[bytes] = []

    def transmit(command: bytes) -> bytes:
        expected, response = script[len(sent)]
        sent.append(command)
        assert command == expected
        return response

    session = CpxSession(transmit)
    assert session.check_issuer() == bytes.fromhex(trace["result"])
    assert len(sent) == len(script)


@pytest.mark.parametrize(
    ("builder", "args"),
    [
        (apdu.apdu_read_binary, (0, 0)),
        (apdu.apdu_read_binary, (0, 0xE8)),  # over the CPS3's 0xE7 cap
        (apdu.apdu_read_binary, (0x8000, 1)),
        (apdu.apdu_verify_pin, ("12a4",)),
        (apdu.apdu_verify_pin, ("123",)),
        (apdu.apdu_verify_pin, ("123456789",)),
    ],
)
def test_impossible_commands_are_refused_before_the_card(builder: Any, args: tuple[Any]) -> None:
    with pytest.raises(ValueError):
        builder(*args)


def test_a_response_shorter_than_a_status_word_is_an_error() -> None:
    with pytest.raises(CardStatusError):
        apdu.Response.parse(b"\x90")


@pytest.mark.parametrize(
    ("fcp", "size"),
    [("620A8002000C8201018301 03", 12), ("6207 8201 01 8102 0400", 1024)],
)
def test_file_size_from_fcp(fcp: str, size: int) -> None:
    assert apdu.file_size_from_fcp(bytes.fromhex(fcp)) == size


@pytest.mark.parametrize("fcp", ["6F00", "62038201 01", ""])
def test_unreadable_fcp(fcp: str) -> None:
    with pytest.raises(CardStatusError):
        apdu.file_size_from_fcp(bytes.fromhex(fcp))
