"""``cdr card status`` over a hand-written fake reader: what the desk reads for a good card,
an expired one, a blocked PIN, and the one-line errors; the CLI's profile names are the PKI's."""

from __future__ import annotations

import datetime
import json
from types import TracebackType

import pytest

from card.cps import CardFamily
from card.emulator import CPS3_CONTACT_ATR, EmulatedCpx, emulated_card_from_pki
from card.errors import CardError, NoCard, NoReader
from card.pki import PROFILES, init_pki
from cdr import cli
from cdr.card_commands import card_status


class FakeCard:
    def __init__(self, card: EmulatedCpx) -> None:
        from card.cps import CpxSession

        self._card = card
        self._session = CpxSession(card.handle)
        self.reader = "Fake Reader 00 00"
        self.atr = CPS3_CONTACT_ATR
        self.family = CardFamily.CPS3_CONTACT

    def read_certificates(self) -> tuple[bytes, bytes]:
        return self._session.read_certificates()

    def pin_tries_left(self) -> int | None:
        return self._session.pin_tries_left()

    def verify_pin(self, pin: str) -> None:
        self._session.verify_pin(pin)

    def sign_challenge(self, challenge: bytes) -> bytes:
        return self._session.sign_authentication(challenge)

    def sign_data(self, data: bytes) -> bytes:
        return self._session.sign_with_signature_key(data)

    def close(self) -> None:
        self._card.power_on()

    def __enter__(self) -> FakeCard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class FakeReader:
    def __init__(self, card: EmulatedCpx | None = None, error: CardError | None = None) -> None:
        self.card, self.error = card, error

    def list_readers(self) -> list[str]:
        return ["Fake Reader 00 00"]

    def wait_for_insertion(self, timeout_s: float) -> str:
        return "Fake Reader 00 00"

    def wait_for_removal(self, reader: str, timeout_s: float) -> None:
        return None

    def open(self, reader: str | None = None) -> FakeCard:
        if self.error is not None:
            raise self.error
        assert self.card is not None
        return FakeCard(self.card)


def test_the_cli_profiles_are_the_pki_profiles() -> None:
    assert sorted(cli._CARD_PROFILES) == sorted(PROFILES)


def _card(tmp_path_factory: pytest.TempPathFactory, now: datetime.datetime) -> EmulatedCpx:
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, structure_finess="750100018", structure_name="Test", now=now)
    card = emulated_card_from_pki(directory, "infirmier", pin="1234")
    card.power_on()
    return card


def test_status_for_a_good_card(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    card = _card(tmp_path_factory, datetime.datetime.now(datetime.UTC))
    card.tries_left = 1
    assert card_status(False, FakeReader(card)) == 0
    out = capsys.readouterr().out
    assert "identifier   ADELI 0B6087510" in out
    assert "profession   Infirmier (TRE_G15 60)" in out
    assert "PIN          1 try left" in out


def test_status_for_an_expired_card_and_a_blocked_pin(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    card = _card(tmp_path_factory, datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    card.tries_left = 0
    assert card_status(True, FakeReader(card)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["certificate_valid"] is False and report["pin_blocked"] is True
    assert card_status(False, FakeReader(card)) == 0
    out = capsys.readouterr().out
    assert "certificate  EXPIRED on 2022-12-30: the card must be renewed" in out
    assert "PIN          BLOCKED" in out


@pytest.mark.parametrize("error", [NoCard("no card in the reader"), NoReader("no reader")])
def test_errors_are_one_line(error: CardError, capsys: pytest.CaptureFixture[str]) -> None:
    assert card_status(True, FakeReader(error=error)) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] == {
        "type": type(error).__name__,
        "message": error.message,
    }
    assert captured.err == f"cdr: {error.message}\n"


def test_emulate_refuses_a_missing_pki_and_an_impossible_pin(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path_factory.mktemp("empty")
    assert cli.main(["card", "emulate", "--profile", "medecin", "--pki", str(empty)]) == 2
    assert "holds no test PKI (make one: cdr pki init DIR)" in capsys.readouterr().err
    pki = tmp_path_factory.mktemp("pki")
    init_pki(pki, structure_finess="750100018", structure_name="Test")
    argv = ["card", "emulate", "--profile", "medecin", "--pki", str(pki), "--pin", "12"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == "cdr: error: --pin: a PIN is 4 to 8 digits\n"
