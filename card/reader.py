"""Our port to card readers: what the portal, the CLI and the tests ask of a reader and the
card in it, whatever sits behind (``card.pcsc`` over pyscard and pcscd; a fake in tests)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from card.cps import CardFamily
from card.errors import UnknownCard
from card.holder import CardHolder, holder_from_certificate

__all__ = ["CardReader", "CardReport", "OpenCard", "cpx_certificates", "describe_card"]


class OpenCard(Protocol):
    """A card connected in ``reader``; closing it resets the card, so that a verified PIN does
    not outlive the connection."""

    @property
    def reader(self) -> str: ...

    @property
    def atr(self) -> bytes: ...

    @property
    def family(self) -> CardFamily: ...

    def read_certificates(self) -> tuple[bytes, bytes]:
        """The DER authentication and signature certificates (the CPx application selected)."""
        ...

    def pin_tries_left(self) -> int | None:
        """Tries left (0: blocked), or None once the PIN is verified."""
        ...

    def verify_pin(self, pin: str) -> None: ...

    def sign_challenge(self, challenge: bytes) -> bytes:
        """RSA PKCS#1 v1.5 / SHA-256 over ``challenge`` with the authentication key."""
        ...

    def sign_data(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 / SHA-256 over ``data`` with the signature (non-repudiation) key:
        what signs an assertion in attended mode."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> OpenCard: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class CardReader(Protocol):
    def list_readers(self) -> list[str]: ...

    def wait_for_insertion(self, timeout_s: float) -> str:
        """The name of a reader holding a card, waiting up to ``timeout_s`` (0: just look)."""
        ...

    def wait_for_removal(self, reader: str, timeout_s: float) -> None: ...

    def open(self, reader: str | None = None) -> OpenCard:
        """Connect to the card in ``reader`` (default: the first reader holding one)."""
        ...


@dataclass(frozen=True, slots=True)
class CardReport:
    """What a person at the desk wants to know about the card in the reader."""

    reader: str
    family: CardFamily
    atr: bytes
    holder: CardHolder
    pin_tries_left: int | None
    certificate_valid: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "reader": self.reader,
            "card_family": self.family.value,
            "atr": self.atr.hex(" ").upper(),
            "holder": self.holder.as_dict(),
            "pin_tries_left": self.pin_tries_left,
            "pin_blocked": self.pin_tries_left == 0,
            "certificate_valid": self.certificate_valid,
        }


def cpx_certificates(card: OpenCard) -> tuple[bytes, bytes]:
    """The DER authentication and signature certificates of a CPx card; ``UnknownCard`` for a
    card whose ATR names no CPx family."""
    if card.family is CardFamily.UNKNOWN:
        raise UnknownCard(f"the card in {card.reader} is not a CPx card (ATR {card.atr.hex()})")
    return card.read_certificates()


def describe_card(reader: CardReader, now: datetime.datetime) -> CardReport:
    """Open the first card found and read who it belongs to; no PIN is asked."""
    with reader.open() as card:
        auth, _sign = cpx_certificates(card)
        holder = holder_from_certificate(auth)
        return CardReport(
            reader=card.reader,
            family=card.family,
            atr=card.atr,
            holder=holder,
            pin_tries_left=card.pin_tries_left(),
            certificate_valid=holder.valid_at(now),
        )
