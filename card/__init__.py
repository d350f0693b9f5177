"""CPx cards (CPS, CPE, CPF) in PC/SC readers, the emulated card and the test PKI (issue 13).

The surface here is the pure part and the port: ``CardReader`` (what a reader and its card can
be asked), the CPx session in APDUs, the card holder read from a certificate, and the errors.
The adapters are imported from their modules by the composition root: ``card.pcsc.PcscReader``
(pyscard and pcscd), ``card.emulator`` and ``card.vpcd`` (the emulated card in vsmartcard's
virtual reader), ``card.pki`` (the test IGC-Santé PKI).
"""

from card.cps import CardFamily, CpxSession, card_family
from card.errors import (
    CardError,
    CardRemoved,
    CardServiceUnavailable,
    CardStatusError,
    NoCard,
    NoReader,
    PinBlocked,
    UnknownCard,
    WrongPin,
)
from card.holder import CardHolder, holder_from_certificate
from card.reader import CardReader, CardReport, OpenCard, describe_card

__all__ = [
    "CardError",
    "CardFamily",
    "CardHolder",
    "CardReader",
    "CardRemoved",
    "CardReport",
    "CardServiceUnavailable",
    "CardStatusError",
    "CpxSession",
    "NoCard",
    "NoReader",
    "OpenCard",
    "PinBlocked",
    "UnknownCard",
    "WrongPin",
    "card_family",
    "describe_card",
    "holder_from_certificate",
]
