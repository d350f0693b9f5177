"""A submitted CoverageEligibilityRequest (R4 ``$submit``, IHE FAIS ITI-124) turned into a
checked eligibility ask: the ``RightsQuery`` to run plus the resources it was read from.

Pure: values in, values out. Nothing is asked of any regime before the whole submission has been
read; every fault found is reported at once, each with its FHIRPath, in one ``ResourceError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mapping.fhir.cer_coverage import read_insurance
from mapping.fhir.cer_patient import Identity, read_identity
from mapping.fhir.cer_requester import read_requester
from mapping.fhir.cer_stored import reference_texts
from mapping.fhir.cer_submission import References, unwrap_submission
from mapping.fhir.read import FHIR_DATE, FHIR_DATE_TIME, Faults, Node, as_dict
from rights.catalogue import RegimeCatalogue
from rights.dates import check_date_of_care, check_partial_date, utc_instant
from rights.errors import QueryError
from rights.model import Requester, RightsQuery
from rights.queries import build_query

__all__ = ["PURPOSES", "STATUSES", "EligibilityAsk", "submit_body_to_ask"]

# R4 value sets fm-status and eligibilityrequest-purpose (both required bindings).
STATUSES = ("active", "cancelled", "draft", "entered-in-error")
PURPOSES = ("auth-requirements", "benefits", "discovery", "validation")


@dataclass(frozen=True, slots=True)
class EligibilityAsk:
    cer: dict[str, Any]  # the CER as received (contained kept)
    patient: dict[str, Any] | None  # the Patient it references (contained/entry), if any
    coverage: dict[str, Any] | None  # the Coverage of the (focal) insurance, if any
    organizations: tuple[dict[str, Any], ...]  # Organizations given (insurer/provider/payor)
    query: RightsQuery  # checked; requester from the provider Organization
    purposes: tuple[str, ...]
    is_bundle: bool
    nir_expression: str  # FHIRPath of the identifier used
    # Each reference the CER makes to a resource sent beside it (Bundle entries), by the
    # reference's text, and those these make in turn: what the stored request must carry for
    # its references to resolve (mapping.fhir.cer_stored).
    referenced: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def submit_body_to_ask(
    body: Mapping[str, Any],
    *,
    catalogue: RegimeCatalogue,
    today: date,
    default_requester: Requester,
) -> EligibilityAsk:
    """Read a ``$submit`` body: a CoverageEligibilityRequest, a Parameters holding one (or a
    Bundle), or a Bundle holding one with the resources it references.

    ``today`` is the date of care when the request has no ``serviced[x]``; ``default_requester``
    asks when the request names no structure with a FINESS. Raises ``ResourceError`` listing
    every fault found.
    """
    faults = Faults()
    submission = unwrap_submission(body, faults)
    if submission is None:
        faults.raise_if_any()
        raise AssertionError("no request read, yet no fault recorded")
    cer, refs = submission.cer, submission.references
    _status(cer)
    purposes = _purposes(cer)
    cer.obj("patient", required=True)
    _created(cer)
    _, insurer = refs.follow(
        cer, "insurer", cer, ("Organization",), required=True, external_ok=True
    )
    date_of_care = _date_of_care(cer, today)
    identity = read_identity(cer, refs, faults, today=today) if cer.has("patient") else None
    insurance = read_insurance(cer, refs, catalogue, discovery="discovery" in purposes)
    asker = read_requester(cer, refs, default_requester, faults)
    faults.raise_if_any()
    if identity is None or date_of_care is None:
        raise AssertionError("an identity or a date of care is missing without a fault")
    return EligibilityAsk(
        cer=as_dict(cer.value),
        patient=identity.patient,
        coverage=None if insurance.coverage is None else as_dict(insurance.coverage.value),
        organizations=_distinct(insurer, *asker.organizations, *insurance.payors),
        query=_query(identity, date_of_care, insurance.regime, asker.requester, catalogue, today),
        purposes=purposes,
        is_bundle=submission.is_bundle,
        nir_expression=identity.nir_expression,
        referenced=_sent_beside(cer, refs) if submission.is_bundle else {},
    )


def _sent_beside(cer: Node, refs: References) -> dict[str, dict[str, Any]]:
    """The resources of the Bundle that the request's references point at, by reference, and
    those that these point at in turn (a Coverage's payor, a PractitionerRole's Organization)."""
    found: dict[str, dict[str, Any]] = {}
    pending = [cer]
    walked = {cer.path}
    while pending:
        holder = pending.pop()
        for target in reference_texts(holder.value):
            if target.startswith("#") or target in found:
                continue
            node = refs.resolve_target(target, holder)
            if node is None or node.path == cer.path:
                continue
            found[target] = as_dict(node.value)
            if node.path not in walked:
                walked.add(node.path)
                pending.append(node)
    return found


def _query(
    identity: Identity,
    date_of_care: date,
    regime: str | None,
    requester: Requester,
    catalogue: RegimeCatalogue,
    today: date,
) -> RightsQuery:
    # Every field was checked where it was read, with its FHIRPath; build_query checks them
    # again by the same rules, so it cannot fail here.
    query = build_query(
        identity.nir,
        date_of_care=date_of_care,
        catalogue=catalogue,
        requester=requester,
        birth_date=identity.birth_date,
        rang=identity.rang,
        regime=regime,
        nir_oid=identity.nir_oid,
        today=today,
    )
    return dataclasses.replace(
        query, family_name=identity.family_name, given_name=identity.given_name
    )


def _status(cer: Node) -> None:
    status = cer.text("status", required=True)
    if status is not None and status not in STATUSES:
        cer.faults.add(
            cer.child_path("status"), f"status {status!r} is not one of {', '.join(STATUSES)}"
        )
    elif status is not None and status != "active":
        # fm-status: only an active request asks for something; a draft, a cancelled request
        # or one entered in error is not looked up (nor stored).
        cer.faults.add(
            cer.child_path("status"),
            f"a request with status {status!r} is not processed: only an active one is",
            rule=True,
        )


def _purposes(cer: Node) -> tuple[str, ...]:
    purposes: list[str] = []
    for item in cer.items("purpose", required=True):
        if item.value in PURPOSES:
            purposes.append(item.value)
        else:
            cer.faults.add(item.path, f"purpose {item.value!r} is not one of {', '.join(PURPOSES)}")
    return tuple(purposes)


def _created(cer: Node) -> None:
    created = cer.text("created", required=True)
    if created is None:
        return
    if FHIR_DATE_TIME.fullmatch(created) is None:
        cer.faults.add(
            cer.child_path("created"),
            f"created must be a FHIR dateTime (YYYY-MM-DDThh:mm:ss+zz:zz), got {created!r}",
            "format",
        )
    else:
        # Searches index it in UTC: an instant that has none (0001-01-01T00:00:00+14:00) or
        # a day off the calendar is refused now, before any regime is asked.
        try:
            if len(created) > len("YYYY-MM-DD"):
                utc_instant(created)
            else:
                check_partial_date(created)
        except ValueError:
            cer.faults.add(
                cer.child_path("created"), f"created {created!r} is not an instant in UTC"
            )


def _date_of_care(cer: Node, today: date) -> date | None:
    """``servicedDate``, else ``servicedPeriod.start`` (its calendar day as the sender wrote it),
    else ``today``."""
    if cer.has("servicedDate"):
        text, where, pattern = cer.text("servicedDate"), cer.child_path("servicedDate"), FHIR_DATE
    else:
        period = cer.obj("servicedPeriod")
        if period is None or not period.has("start"):
            return today
        text, where, pattern = period.text("start"), period.child_path("start"), FHIR_DATE_TIME
    if text is None:
        return None
    if pattern.fullmatch(text) is None:
        cer.faults.add(where, f"the date of care must be a FHIR date, got {text!r}", "format")
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        cer.faults.add(where, f"the date of care must be a full calendar day, got {text!r}")
        return None
    try:
        return check_date_of_care(day, location=where)
    except QueryError as exc:
        cer.faults.add(where, exc.message, rule=True)  # a real day, outside what CDR serves
        return None


def _distinct(*resources: Node | None) -> tuple[dict[str, Any], ...]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for resource in resources:
        if resource is not None and resource.path not in seen:
            seen.add(resource.path)
            out.append(as_dict(resource.value))
    return tuple(out)
