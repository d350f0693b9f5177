"""The refusals of the API's authentication, in the one error tree (``rights.errors``).

Each carries what its edge says on the wire: the token endpoint answers a
``TokenRequestRefused`` as RFC 6749 §5.2 JSON; the FHIR edge answers ``InvalidToken`` (401)
and ``InsufficientScope`` (403) as an OperationOutcome with RFC 6750's ``WWW-Authenticate``.
"""

from __future__ import annotations

from typing import Literal

from rights.errors import AuthError

__all__ = [
    "InsufficientScope",
    "InvalidToken",
    "KeySetUnavailable",
    "TokenRequestError",
    "TokenRequestRefused",
    "wire_text",
]

# RFC 6749 §5.2 error codes this token endpoint uses.
TokenRequestError = Literal[
    "invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"
]


class TokenRequestRefused(AuthError):
    """A token request refused: ``error`` is its RFC 6749 §5.2 code. RFC 6749 §5.2 answers 400,
    and 401 when the client failed to authenticate (``invalid_client``)."""

    def __init__(self, error: TokenRequestError, message: str) -> None:
        super().__init__(message)
        self.error: TokenRequestError = error

    @property
    def status(self) -> int:
        return 401 if self.error == "invalid_client" else 400


class InvalidToken(AuthError):
    """No bearer token (``present`` False: RFC 6750 §3.1 gives no error code then), or one that
    is expired, badly signed, or for another audience or issuer."""

    def __init__(self, message: str, *, present: bool = True) -> None:
        super().__init__(message)
        self.present = present


class InsufficientScope(AuthError):
    """A valid token whose scopes do not cover the interaction; ``scope`` is one that would."""

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


class KeySetUnavailable(AuthError):
    """A JWK Set that could not be fetched or read: a client's (its token request is refused)
    or the external authorization server's (its tokens cannot be checked)."""


def wire_text(text: str) -> str:
    """``text`` as an OAuth error description may hold it (RFC 6749 §5.2, RFC 6750 §3):
    printable ASCII but '"' and '\\', each other character a '?'."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)
