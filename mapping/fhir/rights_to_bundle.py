"""An HL7-triggered lookup as a FHIR R4 transaction Bundle, for a FHIR endpoint on the bus.

The admission came over HL7, so there is no client CoverageEligibilityRequest: the Bundle carries
one standing for the admission (identified by the HL7 message's MSH-3/MSH-4/MSH-10), the
CoverageEligibilityResponse answering it, and the Patient, Coverage, Organization and
Practitioner resources it references. Every entry is a PUT with a deterministic id, so sending
the Bundle again (a retry after a lost acknowledgement) changes nothing at the receiver.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from mapping.fhir.common import CANONICAL, GATEWAY_ORGANIZATION_ID
from mapping.fhir.rights_to_fhir import report_to_fhir
from rights.catalogue import RegimeCatalogue
from rights.result import LookupReport

__all__ = ["PRELIMINARY", "SYSTEM_HL7_MESSAGE", "rights_to_transaction"]

Json = dict[str, Any]

# Identifies the HL7 message a request stands for: "<MSH-3>|<MSH-4>|<MSH-10>".
SYSTEM_HL7_MESSAGE = f"{CANONICAL}/sid/hl7-message"


# Said of a response some regime of which could not be asked yet (outcome partial or error).
PRELIMINARY = "Preliminary: the regimes not reached are asked again; an updated response follows."


def rights_to_transaction(
    report: LookupReport,
    *,
    catalogue: RegimeCatalogue,
    message_key: str,
    created: datetime,
    final: bool = True,
) -> Json:
    """``message_key`` is ``MSH-3|MSH-4|MSH-10`` of the admission; ``created`` timezone-aware.
    ``final`` False: a regime could not be asked and an updated Bundle will follow (the same
    resource ids, new versions); the response's disposition says so."""
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:32]
    request_id, response_id = f"hl7-{digest}", f"hl7-{digest}-response"
    answer = report_to_fhir(
        report,
        catalogue=catalogue,
        response_id=response_id,
        request_reference=f"CoverageEligibilityRequest/{request_id}",
        created=created,
        purposes=(),
    )
    if not final:
        answer.response["disposition"] += f" {PRELIMINARY}"
    query = report.query
    request: Json = {
        "resourceType": "CoverageEligibilityRequest",
        "id": request_id,
        "identifier": [{"system": SYSTEM_HL7_MESSAGE, "value": message_key}],
        "status": "active",
        "purpose": ["discovery" if query.is_discovery else "validation"],
        "patient": {"reference": f"Patient/{answer.patient['id']}"},
        "servicedDate": query.date_of_care.isoformat(),
        "created": answer.response["created"],
        "insurer": {"reference": f"Organization/{GATEWAY_ORGANIZATION_ID}"},
    }
    resources = [
        answer.patient,
        *answer.organizations,
        *answer.practitioners,
        *answer.coverages,
        request,
        answer.response,
    ]
    return {
        "resourceType": "Bundle",
        "id": f"hl7-{digest}-bundle",
        "type": "transaction",
        "entry": [_put(resource) for resource in resources],
    }


def _put(resource: Json) -> Json:
    # No fullUrl: the receiver's base is its own; a PUT's url names the resource there.
    return {
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }
