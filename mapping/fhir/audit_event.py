"""AuditEvent (FHIR R4) for the audit trail: one per lookup, one per refused request.

Shaped after IHE BALP (Basic Audit Log Patterns) and the DICOM audit vocabulary ATNA uses: a
lookup is a DICOM "Query" (110112) executed (``E``) for the structure, by a client, about a
patient; a refusal is the attempted interaction with a failure outcome, or a DICOM "Security
Alert" (110113, Node Authentication) for a network peer turned away. The recorded instant
and the gateway's own name come from the caller: nothing here reads a clock. An event has no id
here: the trail names it by its place in the chain.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from mapping.fhir.common import (
    CANONICAL,
    SYSTEM_FINESS,
    SYSTEM_NIA,
    SYSTEM_NIR,
    SYSTEM_NIR_TEST,
)
from mapping.fhir.ids import practitioner_id, structure_id
from mapping.fhir.patient import person_id
from mapping.fhir.terms import SYSTEM_ID_NAT_PS, SYSTEM_RPPS
from mapping.fhir.values import coding
from rights.caller import Caller
from rights.result import LookupReport

__all__ = [
    "CS_AUDIT_EVENT_TYPE",
    "CS_AUDIT_SUBTYPE",
    "CS_DCM",
    "CS_RESTFUL_INTERACTION",
    "OUTCOME_MINOR_FAILURE",
    "OUTCOME_SERIOUS_FAILURE",
    "OUTCOME_SUCCESS",
    "SYSTEM_CLIENT",
    "SYSTEM_LOOKUP",
    "client_device_id",
    "lookup_audit_event",
    "nir_system",
    "refusal_audit_event",
]

Json = dict[str, Any]

CS_DCM = "http://dicom.nema.org/resources/ontology/DCM"
CS_AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
CS_RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
CS_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
CS_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
CS_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
CS_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CS_ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
CS_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CS_AUDIT_SUBTYPE = f"{CANONICAL}/CodeSystem/cdr-audit-subtype"
SYSTEM_CLIENT = f"{CANONICAL}/NamingSystem/client"
SYSTEM_LOOKUP = f"{CANONICAL}/NamingSystem/lookup"

# AuditEvent.outcome (http://hl7.org/fhir/audit-event-outcome).
OUTCOME_SUCCESS = "0"
OUTCOME_MINOR_FAILURE = "4"
OUTCOME_SERIOUS_FAILURE = "8"

_OUTCOMES = {
    "complete": OUTCOME_SUCCESS,
    "partial": OUTCOME_MINOR_FAILURE,
    "error": OUTCOME_SERIOUS_FAILURE,
}
_ENTRY_SUBTYPES = {
    "fhir": ("fhir-submit", "CoverageEligibilityRequest/$submit"),
    "hl7": ("hl7-admission", "HL7 v2 admission (ADT) over MLLP"),
    "rqi": ("hl7-rqi", "HL7 v2 RQI^I01 query over MLLP"),
    "cli": ("cli-lookup", "cdr lookup"),
    "portal": ("portal-lookup", "staff portal"),
}
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NOT_ID = re.compile(r"[^A-Za-z0-9\-.]")


def client_device_id(caller: Caller) -> str:
    """A FHIR id naming the requesting client within its entry: readable when its name is one
    already (``fhir-his-east``), else made one and told apart from its look-alikes by a digest
    of the exact name (``hl7-HIS.CHU-1f2e3d4c``)."""
    name = caller.client or "anonymous"
    candidate = f"{caller.entry.value}-{name}"
    if _FHIR_ID.fullmatch(candidate):
        return candidate
    digest = hashlib.sha256(candidate.encode("utf-8")).hexdigest()[:8]
    return f"{_NOT_ID.sub('.', candidate)[:55]}-{digest}"


def nir_system(*, nia: bool, test: bool) -> str:
    if nia:
        return SYSTEM_NIA
    return SYSTEM_NIR_TEST if test else SYSTEM_NIR


def lookup_audit_event(
    report: LookupReport, caller: Caller, *, lookup_id: str, observer: str
) -> Json:
    """The AuditEvent of one lookup: who asked (the client, the structure, the professional
    when known), about whom (the patient, by NIR and by the Patient id the FHIR answers use),
    what (the query: lookup id, date of care, regime), and how it went."""
    query = report.query
    end = report.started_at + timedelta(milliseconds=report.elapsed_ms)
    code, display = _ENTRY_SUBTYPES[caller.entry.value]
    subtypes = [coding(CS_AUDIT_SUBTYPE, code, display)]
    if caller.entry.value == "fhir":
        subtypes.append(coding(CS_RESTFUL_INTERACTION, "operation", "operation"))
    failed = [r.regime for r in report.failed]
    description = f"{report.outcome}: {len(report.found)} of {len(report.results)} regimes found"
    if failed:
        description += "; no answer from " + ", ".join(failed)
    nir = query.nir
    patient = person_id(query, [r.rights for r in report.found if r.rights is not None])
    details = [_detail("date-of-care", query.date_of_care.isoformat())]
    if query.regime is not None:
        details.append(_detail("regime", query.regime))
    details.append(_detail("mode", "discovery" if query.is_discovery else "validation"))
    return {
        "resourceType": "AuditEvent",
        "type": coding(CS_DCM, "110112", "Query"),
        "subtype": subtypes,
        "action": "E",
        "period": {"start": _instant(report.started_at), "end": _instant(end)},
        "recorded": _instant(end),
        "outcome": _OUTCOMES.get(report.outcome, OUTCOME_SERIOUS_FAILURE),
        "outcomeDesc": description,
        "purposeOfEvent": [
            {"coding": [coding(CS_ACT_REASON, "ELIGDTRM", "eligibility determination")]}
        ],
        "agent": _agents(caller, query.requester.finess, query.requester.rpps, observer),
        "source": _source(query.requester.finess, observer),
        "entity": [
            {
                "what": {
                    "reference": f"Patient/{patient}",
                    "identifier": {
                        "system": nir_system(nia=nir.is_nia, test=nir.is_test),
                        "value": nir.value,
                    },
                },
                "type": coding(CS_ENTITY_TYPE, "1", "Person"),
                "role": coding(CS_OBJECT_ROLE, "1", "Patient"),
            },
            {
                "what": {"identifier": {"system": SYSTEM_LOOKUP, "value": lookup_id}},
                "type": coding(CS_ENTITY_TYPE, "2", "System Object"),
                "role": coding(CS_OBJECT_ROLE, "24", "Query"),
                "detail": details,
            },
        ],
    }


def refusal_audit_event(
    caller: Caller,
    *,
    recorded: datetime,
    reason: str,
    structure_finess: str,
    observer: str,
    interaction: str | None,
    target: str | None = None,
) -> Json:
    """The AuditEvent of a refused request. ``interaction``: the FHIR interaction it tried
    (``operation``, ``read``, ``search-type``…) for an API call turned away, ``login`` for a
    token request refused, None for a network peer refused before any message."""
    if interaction is None:
        event_type = coding(CS_DCM, "110113", "Security Alert")
        subtypes = [coding(CS_DCM, "110126", "Node Authentication")]
        action = "E"
    elif interaction == "login":
        event_type = coding(CS_DCM, "110114", "User Authentication")
        subtypes = [coding(CS_DCM, "110122", "Login")]
        action = "E"
    else:
        event_type = coding(CS_AUDIT_EVENT_TYPE, "rest", "RESTful Operation")
        subtypes = [coding(CS_RESTFUL_INTERACTION, interaction, interaction)]
        action = _ACTIONS.get(interaction, "E")
    event: Json = {
        "resourceType": "AuditEvent",
        "type": event_type,
        "subtype": subtypes,
        "action": action,
        "recorded": _instant(recorded),
        "outcome": OUTCOME_MINOR_FAILURE,
        "outcomeDesc": reason,
        "agent": _agents(caller, structure_finess, None, observer),
        "source": _source(structure_finess, observer),
    }
    if target:
        event["entity"] = [
            {
                "what": {"display": target[:200]},
                "type": coding(CS_ENTITY_TYPE, "2", "System Object"),
            }
        ]
    return event


_ACTIONS = {"read": "R", "vread": "R", "search-type": "E", "history-instance": "R"}


def _agents(caller: Caller, finess: str, rpps: str | None, observer: str) -> list[Json]:
    client: Json = {
        "type": {"coding": [coding(CS_DCM, "110153", "Source Role ID")]},
        "who": {
            "reference": f"Device/{client_device_id(caller)}",
            "identifier": {"system": SYSTEM_CLIENT, "value": caller.client or "anonymous"},
            "display": caller.client or "anonymous",
        },
        "requestor": True,
    }
    if caller.address:
        client["network"] = {"address": caller.address, "type": _address_type(caller.address)}
    agents = [client]
    if finess:
        agents.append(
            {
                "type": {"coding": [coding(CS_PARTICIPATION, "IRCP", "information recipient")]},
                "who": {
                    "reference": f"Organization/{structure_id(finess)}",
                    "identifier": {"system": SYSTEM_FINESS, "value": finess},
                },
                "requestor": False,
            }
        )
    person = caller.person
    if person is not None:
        rpps = None  # the card holder is the professional: named once, by the card
        system, value = (
            (SYSTEM_RPPS, person.rpps) if person.rpps else (SYSTEM_ID_NAT_PS, person.national_id)
        )
        professional: Json = {
            "type": {"coding": [coding(CS_ROLE_CLASS, "PROV", "healthcare provider")]},
            "who": {
                "reference": f"Practitioner/{practitioner_id(value)}",
                "identifier": {"system": system, "value": value},
            },
            "requestor": True,
        }
        if person.name:
            professional["who"]["display"] = person.name
        if person.profession:
            professional["role"] = [{"text": person.profession}]
        agents.append(professional)
    if rpps:
        agents.append(
            {
                "type": {"coding": [coding(CS_ROLE_CLASS, "PROV", "healthcare provider")]},
                "who": {
                    "reference": f"Practitioner/{practitioner_id(rpps)}",
                    "identifier": {"system": SYSTEM_RPPS, "value": rpps},
                },
                "requestor": True,
            }
        )
    agents.append(
        {
            "type": {"coding": [coding(CS_DCM, "110152", "Destination Role ID")]},
            "who": {"display": observer},
            "requestor": False,
        }
    )
    return agents


def _source(finess: str, observer: str) -> Json:
    source: Json = {
        "observer": {"display": observer},
        "type": [coding(CS_SOURCE_TYPE, "4", "Application Server")],
    }
    if finess:
        source["site"] = finess
    return source


def _detail(kind: str, value: str) -> Json:
    return {"type": kind, "valueString": value}


def _address_type(address: str) -> str:
    # AuditEvent.agent.network.type (network-type): 2 an IP address, 1 a machine name.
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return "1"
    return "2"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
