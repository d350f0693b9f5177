"""The one exception tree of CDR Gateway.

Every error the gateway raises on purpose derives from ``CdrError``. Adapters translate foreign
exceptions (httpx, SQLAlchemy, sockets) into these at their edge, and only the edges (CLI,
FHIR OperationOutcome, HL7 ACK) turn them into replies.

    CdrError
    ├── InputError                      bad input from a caller; carries ``location``
    │   ├── IdentifierError
    │   │   ├── IdentifierLengthError
    │   │   ├── IdentifierFormatError
    │   │   ├── IdentifierKeyError      carries ``expected_key``
    │   │   └── IdentifierFieldError    (rights.identifiers) month or department out of range
    │   ├── UnknownRegimeError          carries ``valid_codes``
    │   ├── QueryError                  a field of a rights query is unusable
    │   ├── ResourceError               a submitted FHIR resource; carries every ``Fault`` found
    │   ├── SearchTooCostly             a search over its time budget; carries ``parameters``
    │   ├── FhirRequestError            (fhir_server.errors) an HTTP request; carries the status
    │   └── MessageError                an HL7 v2 message; carries ``code`` (table 0357)
    │       ├── FramingError            MLLP frame or character set unusable
    │       ├── ParseError              no readable MSH, bad segment structure
    │       └── MappingError            a field is missing, of the wrong type or value
    ├── RegimeError                     a regime could not answer; carries ``regime``
    │   ├── RegimeUnavailable           refused, reset, 5xx, circuit open (transient)
    │   ├── RegimeTimeout               no answer within the budget (transient)
    │   └── RegimeRejected              the regime refused the request (4xx, bad payload)
    │       └── RequesterRefused        the regime refused who asks (401/403)
    ├── AgentRefusal                    (card.agent) what the desk's card agent tells the page
    ├── CardError                       (card.errors) a CPx card or its reader could not do it
    │   ├── CardServiceUnavailable      no PC/SC service (pcscd not running)
    │   ├── NoReader
    │   ├── NoCard
    │   ├── CardRemoved                 the card left the reader during an operation
    │   ├── UnknownCard                 not a CPx card (ATR, application or issuer)
    │   └── CardStatusError             the card refused a command; carries ``sw``
    │       ├── WrongPin                carries ``tries_left``
    │       └── PinBlocked
    ├── StorageError
    │   └── StorageBusy                 the database stayed locked (transient)
    ├── DeliveryFailed                  (hl7_listener.client) a result not delivered; ``reason``
    ├── ExchangeFailed                  (conformance.mllp) a peer under test not reached or silent
    ├── TokenRefused                    (conformance.credentials) no token from a target
    ├── AuthError                       a caller not authenticated, or not allowed what it asks
    │   ├── TokenRequestRefused         (fhir_server.auth.errors) RFC 6749 §5.2; carries ``error``
    │   ├── InvalidToken                (fhir_server.auth.errors) no usable bearer token (401)
    │   ├── KeySetUnavailable           (fhir_server.auth.errors) a JWKS not fetched or unreadable
    │   ├── InsufficientScope           (fhir_server.auth.errors) carries the ``scope`` needed (403)
    │   ├── CardLoginRefused            (card.login) a card login that does not hold; ``code``
    │   └── SignatureMissing            (fhir_server.portal.attended) no card signature asked
    └── ConfigError

A test (``tests/unit/rights/test_error_tree.py``) compares this drawing with the subclasses
that exist in every package: a new error class is drawn here or the test fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthError",
    "CdrError",
    "ConfigError",
    "Fault",
    "FramingError",
    "IdentifierError",
    "IdentifierFormatError",
    "IdentifierKeyError",
    "IdentifierLengthError",
    "InputError",
    "MappingError",
    "MessageError",
    "ParseError",
    "QueryError",
    "RegimeError",
    "RegimeRejected",
    "RegimeTimeout",
    "RegimeUnavailable",
    "RequesterRefused",
    "ResourceError",
    "SearchTooCostly",
    "StorageBusy",
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
    (``required``, ``value``, ``format``, ``length``, ``key``, ``month``, ``department`` …).
    ``rule``: the resource is valid FHIR but breaks a rule of ours or of the CDR service (a
    NIR's key, a date of care too far ahead, a cancelled request), as opposed to a resource
    that is not valid FHIR; the HTTP edge answers 422 rather than 400 when every fault is one."""

    expression: str
    message: str
    check: str = "value"
    rule: bool = False


class ResourceError(InputError):
    """A submitted resource is unusable; ``faults`` lists every fault found, not just the first."""

    def __init__(self, faults: Sequence[Fault]) -> None:
        summary = "; ".join(f"{f.expression}: {f.message}" for f in faults)
        super().__init__(summary, location=faults[0].expression if faults else "")
        self.faults = tuple(faults)


class SearchTooCostly(InputError):
    """A search that did not finish within its time budget. ``parameters`` are the search
    parameters it had, for the caller to narrow it."""

    def __init__(self, message: str, parameters: Sequence[str]) -> None:
        super().__init__(message, location=", ".join(parameters))
        self.parameters = tuple(parameters)


class MessageError(InputError):
    """An HL7 v2 message is unusable.

    ``code`` is the HL7 table 0357 code the ACK carries in ERR-3: 100 segment sequence,
    101 required field missing, 102 data type, 103 table value not found, 200 unsupported message
    type, 201 unsupported event, 202 unsupported processing id, 203 unsupported version,
    207 application internal error. ``location`` reads ``SEG[#n]-field[(rep)][.comp[.sub]]``,
    e.g. ``PID-3(2).1`` or ``IN1#2-49``; empty when the error is not in a field.
    ``acknowledgment`` is ``AE`` (fix the message before sending it again) or ``AR`` (rejected).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        location: str = "",
        acknowledgment: str = "AE",
    ) -> None:
        super().__init__(message, location=location)
        self.code = code
        self.acknowledgment = acknowledgment


class FramingError(MessageError):
    """The bytes are not a message we can read: frame too large, undecodable characters."""


class ParseError(MessageError):
    """No readable MSH, or a segment structure that cannot be read."""


class MappingError(MessageError):
    """A field needed for the lookup is missing, of the wrong data type, or has a bad value."""


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


class RequesterRefused(RegimeRejected):
    """The regime refused the requester (HTTP 403: a structure outside the FINESS categories
    CDR serves, an unknown professional): no retry helps, and the person's rights are unknown."""


class StorageError(CdrError):
    pass


class StorageBusy(StorageError):
    """The database refused a write for another connection's lock or a conflicting transaction
    (SQLite's write lock this connection would not wait for; a PostgreSQL serialization
    failure, deadlock or lock not available): nothing was written, and the same write may be
    tried again."""


class AuthError(CdrError):
    """A caller is not who it must prove to be, or may not do what it asks. The message is
    said to that caller: it names what is missing, never a key or a secret."""


class ConfigError(CdrError):
    pass
