"""Lookup reports built from the sandbox population, as the lookup use case would build them,
for the RightsResult → FHIR tests (no sockets: results come from ``rights.evaluation``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from mapping.fhir.rights_to_fhir import EligibilityAnswer, report_to_fhir
from rights.catalogue import RegimeCatalogue, default_catalogue
from rights.evaluation import evaluate, query_warnings
from rights.identifiers import NIA_OID, parse_nir
from rights.model import RegimeRights, RightsQuery
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult
from sandbox.members import Member
from sandbox.population import Population, build_population

__all__ = [
    "CREATED",
    "SEED",
    "TODAY",
    "answer_for",
    "catalogue",
    "failed",
    "found",
    "member",
    "population",
    "query_for",
    "report_for",
    "resources_of",
    "rights_of",
]

SEED = 20091
TODAY = date(2026, 11, 24)
CREATED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@functools.cache
def catalogue() -> RegimeCatalogue:
    return default_catalogue()


@functools.cache
def population() -> Population:
    return build_population(catalogue(), seed=SEED, today=TODAY)


def member(family_name: str, given_name: str, regime: str | None = None) -> Member:
    """The named scenario member (names are fixed by the sandbox's scenarios)."""
    matches = [
        m
        for m in population().members
        if not m.note.startswith("Random ")
        and m.family_name == family_name
        and m.given_name == given_name
        and (regime is None or m.regime == regime)
    ]
    assert len(matches) == 1, f"{given_name} {family_name} ({regime}): {len(matches)} members"
    return matches[0]


def rights_of(who: Member) -> RegimeRights:
    assert who.rights is not None, f"{who.given_name} {who.family_name} holds no rights"
    return who.rights


def query_for(
    who: Member, *, day: date | None = None, discovery: bool = False, oid: str | None = None
) -> RightsQuery:
    nia = "nia" in who.scenarios
    return RightsQuery(
        nir=parse_nir(who.nir, oid=oid or (NIA_OID if nia else None)),
        date_of_care=day or who.date_of_care,
        birth_date=who.birth_date,
        rang=who.rang,
        regime=None if discovery else who.regime,
    )


def found(
    regime: str, rights: RegimeRights | None, day: date, elapsed: float = 12.5
) -> RightsResult:
    status = RegimeStatus.FOUND if rights is not None else RegimeStatus.UNKNOWN
    return RightsResult(
        regime, status, evaluate(status, rights, day), rights, elapsed_ms=elapsed, attempts=1
    )


def failed(
    regime: str,
    status: RegimeStatus,
    day: date,
    detail: str,
    refusal: InForceReason | None = None,
) -> RightsResult:
    evaluation = evaluate(status, None, day, refusal=refusal)
    return RightsResult(regime, status, evaluation, None, detail=detail, elapsed_ms=3000.0)


def report_for(
    who: Member,
    *,
    day: date | None = None,
    extra: tuple[RightsResult, ...] = (),
    discovery: bool = False,
    oid: str | None = None,
) -> LookupReport:
    """The report of a lookup for ``who``: its regime's answer, then ``extra`` results."""
    query = query_for(who, day=day, discovery=discovery or bool(extra), oid=oid)
    results = (found(who.regime, who.rights, query.date_of_care), *extra)
    return LookupReport(query, results, CREATED, 42.0, query_warnings(query))


def answer_for(
    report: LookupReport,
    *,
    purposes: tuple[str, ...] = ("validation",),
    submitted: Mapping[str, Any] | None = None,
    response_id: str = "response-1",
) -> EligibilityAnswer:
    return report_to_fhir(
        report,
        catalogue=catalogue(),
        response_id=response_id,
        request_reference="CoverageEligibilityRequest/request-1",
        created=CREATED,
        purposes=purposes,
        submitted_patient=submitted,
    )


def resources_of(answer: EligibilityAnswer) -> Iterator[dict[str, Any]]:
    yield answer.response
    yield answer.patient
    yield from answer.coverages
    yield from answer.organizations
    yield from answer.practitioners
