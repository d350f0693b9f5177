"""Errors of the HTTP edge itself (formats, sizes, routes), in the one error tree."""

from __future__ import annotations

from rights.errors import InputError

__all__ = ["FhirRequestError"]


class FhirRequestError(InputError):
    """A request the FHIR API refuses before any business logic: ``status`` is the HTTP status,
    ``code`` the OperationOutcome issue type (http://hl7.org/fhir/issue-type)."""

    def __init__(self, status: int, code: str, message: str, *, location: str = "") -> None:
        super().__init__(message, location=location)
        self.status = status
        self.code = code
