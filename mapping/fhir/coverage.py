"""One regime's answer as FHIR Coverages: one per AMO period (order 1), one per C2S or AME grant
(order 2), one per declared work accident; with the caisses that pay them as Organizations.

DESIGN §5: the managing organisation in ``Coverage.class`` with our class types, the ouvrant
droit as ``subscriber`` + ``subscriberId``, the qualité as ``relationship`` plus our own coding,
ETM/MTM as extensions with code and period (in the spirit of gematik VSDM 2.0).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapping.fhir.common import (
    CLASS_CAISSE,
    CLASS_CDR_REGIME,
    CLASS_CENTRE,
    CLASS_CODE_GESTION,
    CLASS_REGIME,
    CS_CLASS_TYPE,
    CS_QUALITE,
    SYSTEM_AT_NUMBER,
    SYSTEM_ORGANISATION_NUMBER,
)
from mapping.fhir.ids import CoverageKind, coverage_id
from mapping.fhir.organization import organisation_to_fhir
from mapping.fhir.terms import (
    CLASS_COMPLEMENTARY,
    CLASS_SITUATION,
    CLASS_TYPES,
    COVERAGE_TYPES,
    CS_COVERAGE_TYPE,
    CS_NATURE_PJ,
    CS_SNCF_CONTRACT,
    CS_SUBSCRIBER_RELATIONSHIP,
    CS_V3_ACT_CODE,
    CS_V3_ROLE_CODE,
    EXT_DEFAULT_AT_ORGANISATION,
    EXT_NATURE_PJ,
    EXT_SNCF_CONTRACT,
    NATURE_PJ_CODES,
    PROFILE_COVERAGE,
    QUALITE_CODES,
    SNCF_CONTRACT_CODES,
)
from mapping.fhir.tm import tm_entries
from mapping.fhir.values import (
    Json,
    benefit_item,
    coding,
    extension,
    in_order,
    period_json,
    period_text,
    reference,
)
from mapping.shared import regime_label
from rights.catalogue import RegimeCatalogue
from rights.model import Period, Qualite, RegimeRights, Situation, SituationKind

__all__ = ["CoverageEntry", "RegimeCoverages", "rights_to_coverages"]

# Qualité → subscriber-relationship (R4 code system, displays as published). A concubin is a
# common-law spouse ("common"), as the same person's RelatedPerson says DOMPART; married
# spouses, separated or widowed, stay "spouse"; a divorced one is no longer a spouse.
_SUBSCRIBER_RELATIONSHIP = {
    Qualite.ASSURE: ("self", "Self"),
    Qualite.CONJOINT: ("spouse", "Spouse"),
    Qualite.CONJOINT_SEPARE: ("spouse", "Spouse"),
    Qualite.CONJOINT_VEUF: ("spouse", "Spouse"),
    Qualite.CONCUBIN: ("common", "Common Law Spouse"),
    Qualite.ENFANT: ("child", "Child"),
}
# The ouvrant droit's role towards the beneficiary, where v3-RoleCode has an exact concept.
_OUVRANT_ROLE = {
    Qualite.ENFANT: ("PRN", "parent"),
    Qualite.CONJOINT: ("SPS", "spouse"),
    Qualite.CONCUBIN: ("DOMPART", "domestic partner"),
}
_SITUATION_NAMES = {
    "1": "C2S gérée par la caisse",
    "2": "C2S gérée par la caisse",
    "3": "C2S gérée par un organisme complémentaire",
    "10": "AME",
}
_OUVRANT_DROIT_ID = "ouvrant-droit"
# R4 Coverage element order.
_COVERAGE_ELEMENTS = (
    "identifier", "status", "type", "policyHolder", "subscriber", "subscriberId", "beneficiary",
    "dependent", "relationship", "period", "payor", "class", "order",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CoverageEntry:
    """A Coverage with what the response says about it: its period and the benefit items."""

    resource: Json
    period: Period
    benefits: tuple[Json, ...]


@dataclass(frozen=True, slots=True)
class RegimeCoverages:
    entries: tuple[CoverageEntry, ...]
    organizations: tuple[Json, ...]


def rights_to_coverages(
    regime: str,
    rights: RegimeRights,
    *,
    patient: str,
    nir_system: str,
    catalogue: RegimeCatalogue,
) -> RegimeCoverages:
    """The Coverages of ``rights`` (answered by catalogue regime ``regime``) for Patient
    ``patient``; ``nir_system`` is the identifier system of the ouvrant droit's NIR."""
    org = rights.organisation
    payor = organisation_to_fhir(org.number, catalogue, org.cdr_regime or regime)
    organizations = {payor["id"]: payor}
    base = _Base(regime, rights, patient, nir_system, payor, regime_label(regime, catalogue))
    entries: list[CoverageEntry] = []

    tm = tm_entries(rights)
    for amo in rights.amo:
        own = [e for e in tm if amo.period.start in e.targets]
        resource = base.coverage(CoverageKind.AMO, amo.period)
        resource["type"] = _type(CS_V3_ACT_CODE, "PUBLICPOL", "public healthcare", "amo")
        resource["class"] = base.organisation_classes(payor["name"])
        resource["order"] = 1
        extensions = [e.extension for e in own]
        extensions.append(
            extension(EXT_NATURE_PJ, valueCoding=_coding(CS_NATURE_PJ, amo.nature_pj))
        )
        if rights.sncf_contract is not None:
            extensions.append(_sncf(rights.sncf_contract.codes, rights.sncf_contract.period))
        if rights.default_at_organisation:
            value = {"system": SYSTEM_ORGANISATION_NUMBER, "value": rights.default_at_organisation}
            extensions.append(extension(EXT_DEFAULT_AT_ORGANISATION, valueIdentifier=value))
        resource["extension"] = extensions
        entries.append(CoverageEntry(resource, amo.period, tuple(e.benefit for e in own)))

    for situation in rights.situations:
        entries.append(base.situation(situation))

    for accident in rights.accidents:
        at_org = organisation_to_fhir(accident.organisation, catalogue)
        organizations.setdefault(at_org["id"], at_org)
        resource = base.coverage(
            CoverageKind.ATMP, accident.period, accident=accident.number, payor=at_org
        )
        resource["identifier"] = [{"system": SYSTEM_AT_NUMBER, "value": accident.number}]
        resource["type"] = _type(CS_V3_ACT_CODE, "WCBPOL", "worker's compensation", "atmp")
        resource["class"] = [*_number_classes(accident.organisation), base.cdr_regime_class()]
        benefit = benefit_item(
            COVERAGE_TYPES[CoverageKind.ATMP.value],
            f"AT/MP n° {accident.number}, organisation {accident.organisation}, "
            f"{period_text(accident.period)}",
        )
        entries.append(CoverageEntry(resource, accident.period, (benefit,)))
    ordered = tuple(
        CoverageEntry(in_order(e.resource, _COVERAGE_ELEMENTS), e.period, e.benefits)
        for e in entries
    )
    return RegimeCoverages(ordered, tuple(organizations.values()))


class _Base:
    """What every Coverage of one regime's answer shares."""

    def __init__(
        self,
        regime: str,
        rights: RegimeRights,
        patient: str,
        nir_system: str,
        payor: Json,
        label: str,
    ) -> None:
        self.regime = regime
        self.rights = rights
        self.patient = patient
        self.nir_system = nir_system
        self.payor = payor
        self.label = label

    def coverage(
        self,
        kind: CoverageKind,
        period: Period,
        *,
        accident: str | None = None,
        payor: Json | None = None,
    ) -> Json:
        person = self.rights.beneficiary
        cid = coverage_id(self.regime, self.patient, kind, period.start, accident)
        paying = payor or self.payor
        resource: Json = {
            "resourceType": "Coverage",
            "id": cid,
            "meta": {"profile": [PROFILE_COVERAGE]},
            "status": "active",
        }
        resource.update(self._subscriber())
        resource["beneficiary"] = reference("Patient", self.patient)
        resource["relationship"] = _relationship(person.qualite)
        resource["period"] = period_json(period)
        resource["payor"] = [reference("Organization", paying["id"], paying["name"])]
        return resource

    def _subscriber(self) -> Json:
        od = self.rights.ouvrant_droit
        out: Json = {}
        qualite = self.rights.beneficiary.qualite
        if qualite is Qualite.ASSURE:
            out["subscriber"] = reference("Patient", self.patient)
        else:
            related: Json = {
                "resourceType": "RelatedPerson",
                "id": _OUVRANT_DROIT_ID,
                "identifier": [{"use": "official", "system": self.nir_system, "value": od.nir}],
                "patient": reference("Patient", self.patient),
            }
            if qualite in _OUVRANT_ROLE:
                code, display = _OUVRANT_ROLE[qualite]
                related["relationship"] = [{"coding": [coding(CS_V3_ROLE_CODE, code, display)]}]
            name: Json = {"family": od.family_name}
            if od.given_names:
                name["given"] = list(od.given_names)
            related["name"] = [name]
            # A contained resource must be referenced from its container (dom-3): it is.
            out["contained"] = [related]
            display = " ".join((*od.given_names, od.family_name))
            out["subscriber"] = {"reference": f"#{_OUVRANT_DROIT_ID}", "display": display}
        out["subscriberId"] = od.nir
        return out

    def organisation_classes(self, caisse_name: str) -> list[Json]:
        org = self.rights.organisation
        return [
            _class(CLASS_REGIME, org.regime_code),
            _class(CLASS_CAISSE, org.caisse, caisse_name),
            _class(CLASS_CENTRE, org.centre),
            _class(CLASS_CODE_GESTION, org.code_gestion),
            self.cdr_regime_class(),
        ]

    def cdr_regime_class(self) -> Json:
        return _class(CLASS_CDR_REGIME, self.regime, self.label)

    def situation(self, situation: Situation) -> CoverageEntry:
        kind = CoverageKind.AME if situation.kind is SituationKind.AME else CoverageKind.C2S
        resource = self.coverage(kind, situation.period)
        resource["type"] = {"coding": [_coding(CS_COVERAGE_TYPE, kind.value)]}
        name = _SITUATION_NAMES.get(situation.code, f"situation {situation.code}")
        resource["class"] = [
            _class(CLASS_SITUATION, situation.code, name),
            _class(CLASS_COMPLEMENTARY, situation.complementary_id),
            self.cdr_regime_class(),
        ]
        resource["order"] = 2
        benefit = benefit_item(
            COVERAGE_TYPES[kind.value],
            f"Situation {situation.code} ({name}), complementary organism "
            f"{situation.complementary_id}, {period_text(situation.period)}",
        )
        return CoverageEntry(resource, situation.period, (benefit,))


def _relationship(qualite: Qualite) -> Json:
    code, display = _SUBSCRIBER_RELATIONSHIP.get(qualite, ("other", "Other"))
    return {
        "coding": [
            coding(CS_SUBSCRIBER_RELATIONSHIP, code, display),
            _coding(CS_QUALITE, qualite.value),
        ]
    }


def _type(system: str, code: str, display: str, ours: str) -> Json:
    return {"coding": [coding(system, code, display), _coding(CS_COVERAGE_TYPE, ours)]}


def _class(kind: str, value: str, name: str | None = None) -> Json:
    out: Json = {"type": {"coding": [_coding(CS_CLASS_TYPE, kind)]}, "value": value}
    if name:
        out["name"] = name
    return out


def _number_classes(number: str) -> list[Json]:
    value = "".join(number.split())
    if len(value) != 9:
        return []
    return [
        _class(CLASS_REGIME, value[:2]),
        _class(CLASS_CAISSE, value[2:5]),
        _class(CLASS_CENTRE, value[5:]),
    ]


def _sncf(codes: tuple[str, ...], period: Period) -> Json:
    parts = [extension("code", valueCoding=_coding(CS_SNCF_CONTRACT, code)) for code in codes]
    parts.append(extension("period", valuePeriod=period_json(period)))
    return {"url": EXT_SNCF_CONTRACT, "extension": parts}


_TABLES = {
    CS_CLASS_TYPE: CLASS_TYPES,
    CS_COVERAGE_TYPE: COVERAGE_TYPES,
    CS_NATURE_PJ: NATURE_PJ_CODES,
    CS_QUALITE: QUALITE_CODES,
    CS_SNCF_CONTRACT: SNCF_CONTRACT_CODES,
}


def _coding(system: str, code: str) -> Json:
    return coding(system, code, _TABLES[system].get(code))
