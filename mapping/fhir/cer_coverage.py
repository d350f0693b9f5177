"""Which regime a CoverageEligibilityRequest asks: read from the Coverage its focal insurance
points at (our ``Coverage.class`` codes, or the payor's organisation number). Pure.

``validation`` asks the regime of the listed coverage; without a coverage that names one, the
NIR alone does not tell its regime, so the request becomes a discovery across every regime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mapping.fhir.cer_submission import References
from mapping.fhir.common import (
    CLASS_CDR_REGIME,
    CLASS_CENTRE,
    CLASS_REGIME,
    CS_CLASS_TYPE,
    SYSTEM_ORGANISATION_NUMBER,
)
from mapping.fhir.read import Node, codes_of
from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import UnknownRegimeError

__all__ = ["InsuranceRead", "read_insurance"]

_REGIME_CODE = re.compile(r"[0-9]{2}")
_ORGANISATION_NUMBER = re.compile(r"[0-9]{9}")


@dataclass(frozen=True, slots=True)
class InsuranceRead:
    coverage: Node | None  # the Coverage of the focal (else first) insurance, when sent
    payors: tuple[Node, ...]  # its payor Organizations that were sent
    regime: str | None  # catalogue code; None = discovery


def read_insurance(
    cer: Node, refs: References, catalogue: RegimeCatalogue, *, discovery: bool
) -> InsuranceRead:
    """Resolve every ``insurance.coverage`` (an unresolved one is a fault) and read the regime of
    the focal one unless the request is a ``discovery``."""
    chosen: Node | None = None
    chosen_focal = False
    for insurance in cer.objects("insurance"):
        _, coverage = refs.follow(insurance, "coverage", cer, ("Coverage",), required=True)
        focal = insurance.value.get("focal") is True
        if coverage is not None and (chosen is None or (focal and not chosen_focal)):
            chosen, chosen_focal = coverage, focal
    if chosen is None:
        return InsuranceRead(None, (), None)
    payors = tuple(_payors(chosen, refs))
    regime = None if discovery else _regime(chosen, payors, catalogue)
    return InsuranceRead(chosen, payors, regime)


def _payors(coverage: Node, refs: References) -> Iterator[Node]:
    for payor in coverage.objects("payor"):
        # The caisse is an external party: its Organization need not be sent.
        found = refs.resolve(payor, coverage, ("Organization",), external_ok=True)
        if found is not None:
            yield found


def _regime(coverage: Node, payors: tuple[Node, ...], catalogue: RegimeCatalogue) -> str | None:
    classes = [(c, codes_of(c.obj("type"), CS_CLASS_TYPE)) for c in coverage.objects("class")]

    def valued(code: str) -> Node | None:
        return next((c for c, codes in classes if code in codes and c.has("value")), None)

    cdr_regime = valued(CLASS_CDR_REGIME)
    if cdr_regime is not None:
        return _catalogue_code(cdr_regime, catalogue)
    grand = valued(CLASS_REGIME)
    if grand is not None:
        centre = valued(CLASS_CENTRE)
        centre_text = centre.text("value") if centre is not None else None
        return _route(grand, catalogue, centre_text)
    number = next(_organisation_numbers(coverage, payors), None)
    if number is not None:
        return _route_number(number, catalogue)
    # Any other class (group, plan …) holding a 9-digit number: only a number that routes counts,
    # since such a class may just as well carry an employer's group number.
    for item, _ in classes:
        value = item.value.get("value")
        if isinstance(value, str) and _ORGANISATION_NUMBER.fullmatch("".join(value.split())):
            regime = catalogue.route_organisation(value)
            if regime is not None:
                return regime.code
    return None


def _organisation_numbers(coverage: Node, payors: tuple[Node, ...]) -> Iterator[Node]:
    """Identifier value nodes of our organisation-number system, on the payor Organizations sent
    or on the payor references themselves (logical references)."""
    holders = list(payors)
    for payor in coverage.objects("payor"):
        logical = payor.obj("identifier")
        if logical is not None:
            holders.append(logical)
    for holder in holders:
        identifiers = [holder] if holder.has("system") else list(holder.objects("identifier"))
        for identifier in identifiers:
            if identifier.value.get("system") == SYSTEM_ORGANISATION_NUMBER:
                yield identifier


def _catalogue_code(node: Node, catalogue: RegimeCatalogue) -> str | None:
    code = node.text("value")
    if code is None:
        return None
    try:
        return catalogue.get(code, location=node.child_path("value")).code
    except UnknownRegimeError as exc:
        node.faults.add(node.child_path("value"), exc.message)
        return None


def _route(node: Node, catalogue: RegimeCatalogue, centre: str | None) -> str | None:
    code = node.text("value")
    where = node.child_path("value")
    if code is None:
        return None
    if _REGIME_CODE.fullmatch(code) is None:
        node.faults.add(where, f"a régime code has 2 digits, got {code!r}")
        return None
    return _routed(catalogue.route(code, centre), code, node, where, catalogue)


def _route_number(identifier: Node, catalogue: RegimeCatalogue) -> str | None:
    number = identifier.text("value")
    where = identifier.child_path("value")
    if number is None:
        return None
    if _ORGANISATION_NUMBER.fullmatch("".join(number.split())) is None:
        identifier.faults.add(
            where, f"an organisation number is régime (2) + caisse (3) + centre (4), got {number!r}"
        )
        return None
    code = "".join(number.split())[:2]
    return _routed(catalogue.route_organisation(number), code, identifier, where, catalogue)


def _routed(
    regime: Regime | None, code: str, node: Node, where: str, catalogue: RegimeCatalogue
) -> str | None:
    if regime is not None:
        return regime.code
    served = sorted({g for r in catalogue for g in r.grand_regimes})
    if code in served:
        return None  # a shared code (99) without a known centre: ask each candidate (discovery)
    node.faults.add(
        where,
        f"régime {code} is served by no CDR regime; CDR serves régimes {', '.join(served)}",
    )
    return None
