"""Is a ``$submit`` body one the gateway accepts? ``mapping.fhir.submit_body_to_ask``, the very
function behind the gateway's ``CoverageEligibilityRequest/$submit``, without a server.

Every fault is reported at once, each at its FHIRPath and in the words of the gateway's
OperationOutcome (``diagnostics``: the message and the rule that failed in brackets). The two
checks the HTTP edge makes before the mapping (a body that is JSON, and a JSON object) are
repeated here in its words (``fhir_server/request_body.py``).
"""

from __future__ import annotations

import json
from datetime import date

from conformance.findings import Finding
from mapping.fhir.cer_to_query import submit_body_to_ask
from rights.catalogue import RegimeCatalogue
from rights.errors import ResourceError
from rights.model import Requester

__all__ = ["fhir_findings", "looks_like_json"]


def looks_like_json(raw: bytes) -> bool:
    return raw.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] in (b"{", b"[")


def fhir_findings(
    raw: bytes, *, catalogue: RegimeCatalogue, default_requester: Requester, today: date
) -> list[Finding]:
    """Every fault the gateway's OperationOutcome would list for ``raw`` posted as
    ``application/fhir+json``; nothing when it would look the patient up."""
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return [Finding("$", "", f"body is not valid JSON: {exc}")]
    if not isinstance(body, dict):
        return [Finding("", "", "body must be a JSON object (a resource)")]
    try:
        submit_body_to_ask(
            body, catalogue=catalogue, today=today, default_requester=default_requester
        )
    except ResourceError as exc:
        return [Finding(f.expression, "", f"{f.message} [{f.check}]") for f in exc.faults]
    return []
