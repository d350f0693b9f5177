"""The card's errors, under ``rights.errors.CdrError`` (drawn in that module's tree).

Each carries a one-line message a person at the desk can act on. ``card.pcsc`` translates
PC/SC result codes into these in one place; ``card.apdu`` translates status words.
"""

from __future__ import annotations

from rights.errors import CdrError

__all__ = [
    "CardError",
    "CardRemoved",
    "CardServiceUnavailable",
    "CardStatusError",
    "NoCard",
    "NoReader",
    "PinBlocked",
    "UnknownCard",
    "WrongPin",
]


class CardError(CdrError):
    """The card could not do what was asked."""


class CardServiceUnavailable(CardError):
    """No PC/SC service: ``pcscd`` is not running (or not installed)."""


class NoReader(CardError):
    """The PC/SC service runs but no reader is connected."""


class NoCard(CardError):
    """A reader is there, with no card in it (or none came before the deadline)."""


class CardRemoved(CardError):
    """The card left the reader during an operation: nothing it started is to be trusted."""


class UnknownCard(CardError):
    """A card that is not a CPx card: an unknown ATR, or no CPx application on it."""


class CardStatusError(CardError):
    """The card refused a command; ``sw`` is its status word (e.g. ``0x6A82``)."""

    def __init__(self, message: str, *, sw: int) -> None:
        super().__init__(message)
        self.sw = sw


class WrongPin(CardStatusError):
    """The PIN was refused; ``tries_left`` before the card blocks it."""

    def __init__(self, tries_left: int) -> None:
        plural = "try" if tries_left == 1 else "tries"
        super().__init__(
            f"wrong PIN: {tries_left} {plural} left before the card is blocked",
            sw=0x63C0 | tries_left,
        )
        self.tries_left = tries_left


class PinBlocked(CardStatusError):
    """Three wrong PINs: the card refuses the PIN until it is unblocked with its PUK."""

    def __init__(self) -> None:
        super().__init__(
            "the card's PIN is blocked (3 wrong PINs): unblock it with the card's PUK",
            sw=0x6983,
        )
