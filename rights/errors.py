"""The one exception tree of CDR Gateway.

Every error the gateway raises on purpose derives from ``CdrError``. Adapters translate foreign
exceptions (httpx, SQLAlchemy, sockets) into these at their edge, and only the edges (CLI,
FHIR OperationOutcome, HL7 ACK) turn them into replies.

    CdrError
    ├── InputError                      bad input from a caller; carries ``location``
    │   ├── IdentifierError
    │   │   ├── IdentifierLengthError
    │   │   ├── IdentifierFormatError
    │   │   └── IdentifierKeyError      carries ``expected_key``
    │   ├── UnknownRegimeError          carries ``valid_codes``
    │   ├── QueryError                  a field of a rights query is unusable
    │   └── ResourceError               a submitted FHIR resource; carries every ``Fault`` found
    ├── RegimeError                     a regime could not answer; carries ``regime``
    │   ├── RegimeUnavailable           refused, reset, 5xx, circuit open (transient)
    │   ├── RegimeTimeout               no answer within the budget (transient)
    │   └── RegimeRejected              the regime refused the request (4xx, bad payload)
    ├── StorageError
    └── ConfigError
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CdrError",
    "ConfigError",
    "Fault",
    "IdentifierError",
    "IdentifierFormatError",
    "IdentifierKeyError",
    "IdentifierLengthError",
    "InputError",
    "QueryError",
    "RegimeError",
    "RegimeRejected",
    "RegimeTimeout",
    "RegimeUnavailable",
    "ResourceError",
    "StorageError",
    "UnknownRegimeError",
]


class CdrError(Exception):
    """Root of every error the gateway raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(CdrError):
    """Input from a caller is unusable. ``location`` names the field (e.g. ``nir``, ``PID-3``)."""

    def __init__(self, message: str, *, location: str = "") -> None:
        super().__init__(message)
        self.location = location


class IdentifierError(InputError):
    """An identifier (NIR, NIA, FINESS, AT number) failed one of its checks.

    ``check`` is one of ``length``, ``format``, ``key``, the name callers show to users.
    """

    check = "format"


class IdentifierLengthError(IdentifierError):
    check = "length"


class IdentifierFormatError(IdentifierError):
    check = "format"


class IdentifierKeyError(IdentifierError):
    check = "key"

    def __init__(self, message: str, *, expected_key: str, location: str = "") -> None:
        super().__init__(message, location=location)
        self.expected_key = expected_key


class UnknownRegimeError(InputError):
    def __init__(self, code: str, valid_codes: tuple[str, ...], *, location: str = "") -> None:
        super().__init__(
            f"unknown regime {code!r}; valid regime codes: {', '.join(valid_codes)}",
            location=location,
        )
        self.code = code
        self.valid_codes = valid_codes


class QueryError(InputError):
    """A field of a rights query is missing or malformed (birth date, rang, date of care)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault in a submitted resource: ``expression`` is its FHIRPath, ``check`` what failed
    (``required``, ``value``, ``format``, ``length``, ``key``, ``month``, ``department`` …)."""

    expression: str
    message: str
    check: str = "value"


class ResourceError(InputError):
    """A submitted resource is unusable; ``faults`` lists every fault found, not just the first."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        summary = "; ".join(f"{f.expression}: {f.message}" for f in faults)
        super().__init__(summary, location=faults[0].expression if faults else "")
        self.faults = tuple(faults)


class RegimeError(CdrError):
    """A regime service could not give an answer."""

    transient = False

    def __init__(self, message: str, *, regime: str = "") -> None:
        super().__init__(message)
        self.regime = regime


class RegimeUnavailable(RegimeError):
    transient = True


class RegimeTimeout(RegimeError):
    transient = True


class RegimeRejected(RegimeError):
    transient = False


class StorageError(CdrError):
    pass


class ConfigError(CdrError):
    pass
