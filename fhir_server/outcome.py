"""The edge where errors become OperationOutcome resources with the right HTTP status."""

from __future__ import annotations

from typing import Any

from fhir_server.auth.errors import InsufficientScope, InvalidToken, wire_text
from fhir_server.errors import FhirRequestError
from rights.errors import (
    AuthError,
    CdrError,
    IdentifierError,
    InputError,
    ResourceError,
    SearchTooCostly,
    StorageError,
    UnknownRegimeError,
)

__all__ = ["error_headers", "error_status_and_outcome", "operation_outcome"]

_REALM = "cdr-gateway"

# Fault.check → issue type (http://hl7.org/fhir/valueset-issue-type.html).
_ISSUE_TYPE = {
    "required": "required",
    "reference": "not-found",
    "structure": "structure",
    "code": "code-invalid",
}


def _issue(
    code: str, diagnostics: str, expression: str = "", severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def error_status_and_outcome(exc: Exception, correlation_id: str) -> tuple[int, dict[str, Any]]:
    """HTTP status and OperationOutcome for any exception reaching the edge."""
    if isinstance(exc, ResourceError):
        issues = [
            _issue(_ISSUE_TYPE.get(f.check, "value"), f"{f.message} [{f.check}]", f.expression)
            for f in exc.faults
        ]
        # R4 http.html: 400 when the resource fails FHIR's own rules, 422 when it is valid
        # FHIR that breaks a business rule (a NIR's key, a cancelled request).
        status = 422 if all(f.rule for f in exc.faults) else 400
        return status, operation_outcome(issues)
    if isinstance(exc, SearchTooCostly):
        # FHIR R4 issue type too-costly, HTTP 400 (http.html#search, "the search is too costly").
        issue = _issue("too-costly", exc.message)
        if exc.parameters:
            issue["expression"] = list(exc.parameters)
        return 400, operation_outcome([issue])
    if isinstance(exc, FhirRequestError):
        return exc.status, operation_outcome([_issue(exc.code, exc.message, exc.location)])
    if isinstance(exc, IdentifierError | UnknownRegimeError | InputError):
        check = getattr(exc, "check", "value")
        return 400, operation_outcome([_issue("value", f"{exc.message} [{check}]", exc.location)])
    if isinstance(exc, InvalidToken):
        # R4 issue type "login": the client needs to (re)authenticate.
        return 401, operation_outcome([_issue("login", exc.message)])
    if isinstance(exc, AuthError):
        return 403, operation_outcome([_issue("forbidden", exc.message)])
    if isinstance(exc, StorageError):
        return 503, operation_outcome(
            [_issue("transient", f"storage unavailable; correlation id {correlation_id}")]
        )
    if isinstance(exc, CdrError):
        return 500, operation_outcome(
            [_issue("exception", f"{exc.message}; correlation id {correlation_id}")]
        )
    # Never a stack trace on the wire: the log holds it under the same correlation id.
    return 500, operation_outcome(
        [_issue("exception", f"internal error; correlation id {correlation_id}")]
    )


def error_headers(exc: Exception) -> dict[str, str] | None:
    """Headers an error's answer carries besides its outcome: RFC 6750 §3's challenge."""
    if isinstance(exc, InvalidToken):
        if not exc.present:  # §3.1: no error code when the request had no token at all
            return {"WWW-Authenticate": f'Bearer realm="{_REALM}"'}
        return {"WWW-Authenticate": _challenge("invalid_token", exc.message)}
    if isinstance(exc, InsufficientScope):
        challenge = _challenge("insufficient_scope", exc.message)
        if exc.scope:
            challenge += f', scope="{exc.scope}"'
        return {"WWW-Authenticate": challenge}
    return None


def _challenge(error: str, description: str) -> str:
    return f'Bearer realm="{_REALM}", error="{error}", error_description="{wire_text(description)}"'
