"""Our StructureDefinitions: the extensions the mapping emits and the Coverage profile.

Differentials only (no snapshot): they state what we constrain on top of R4 4.0.1, which is what
an integrator reads; a validator that needs snapshots can generate them from the base.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapping.fhir.common import EXT_LUNAR_BIRTH_DATE, EXT_RANG, FHIR_VERSION
from mapping.fhir.terms import (
    CS_COVERAGE_TYPE,
    CS_ETM,
    CS_MTM,
    CS_NATURE_PJ,
    CS_SNCF_CONTRACT,
    EXT_DEFAULT_AT_ORGANISATION,
    EXT_ERROR_REGIME,
    EXT_EXONERATION,
    EXT_MEDECIN_TRAITANT_PERIOD,
    EXT_MODULATION,
    EXT_NATURE_PJ,
    EXT_REGIME_STATUS,
    EXT_SNCF_CONTRACT,
    EXT_WARNING,
    PROFILE_COVERAGE,
)
from mapping.fhir.values import Json

__all__ = ["PUBLISHER", "structure_definitions"]

PUBLISHER = "CDR Gateway"
_BASE = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True, slots=True)
class _Part:
    """A sub-extension of a complex extension: its url, value type, cardinality, meaning."""

    name: str
    type: str
    short: str
    min: int = 0
    max: str = "1"
    system: str | None = None  # for a Coding value: the code system it is drawn from


def structure_definitions() -> tuple[Json, ...]:
    simple = (
        (EXT_RANG, "Rang de naissance", "Patient", "positiveInt",
         "Rank of birth distinguishing people born the same day under one number (twins: 1, 2)."),
        (EXT_LUNAR_BIRTH_DATE, "Lunar birth date", "Patient", "string",
         "Birth date as on the card when it is no calendar date (day or month out of range, "
         "e.g. 1950-00-00); Patient.birthDate is then absent."),
        (EXT_MEDECIN_TRAITANT_PERIOD, "Médecin traitant period", "Patient.generalPractitioner",
         "Period", "Period of the médecin traitant declaration (CDRi 03.03)."),
        (EXT_NATURE_PJ, "Nature de la pièce justificative", "Coverage", "Coding",
         f"What supports the AMO rights (codes of {CS_NATURE_PJ}); 2 = CDR."),
        (EXT_DEFAULT_AT_ORGANISATION, "Default AT/MP organisation", "Coverage", "Identifier",
         "Organisation number (régime + caisse + centre) handling work accidents by default "
         "(CDRi 03.08)."),
        (EXT_ERROR_REGIME, "Regime in error", "CoverageEligibilityResponse.error", "code",
         "Catalogue code of the CDR regime the error is about."),
    )  # fmt: skip
    period = _Part("period", "Period", "Validity period", min=1)
    complex_ = (
        (EXT_EXONERATION, "Exonération du ticket modérateur", "Coverage",
         "ETM (CDRi 03.05): a code and its period.",
         (_Part("code", "Coding", "ETM code", min=1, system=CS_ETM), period)),
        (EXT_MODULATION, "Modulation du ticket modérateur", "Coverage",
         "MTM (CDRi 03.07): a code and its period.",
         (_Part("code", "Coding", "MTM code", min=1, system=CS_MTM), period)),
        (EXT_SNCF_CONTRACT, "CPRP SNCF contrat particulier", "Coverage",
         "SNCF contract: one code of 18-21 and any of 22-25, with their period.",
         (_Part("code", "Coding", "Contract code", min=1, max="*", system=CS_SNCF_CONTRACT),
          period)),
        (EXT_REGIME_STATUS, "Regime status", "CoverageEligibilityResponse",
         "How one regime asked answered the lookup, for integrators and support.",
         (_Part("regime", "code", "Catalogue code of the CDR regime", min=1),
          _Part("status", "code", "found | unknown | unavailable | timeout | rejected", min=1),
          _Part("reason", "code", "in-force | expired | not-yet-open | no-rights | "
                "unknown-person | regime-unavailable | requester-refused | request-rejected"),
          _Part("elapsedMs", "decimal", "Time the regime took, in milliseconds"),
          _Part("attempts", "unsignedInt", "Calls made (retries included)"),
          _Part("fromCache", "boolean", "Answer served from the gateway's cache"))),
        (EXT_WARNING, "Lookup warning", "CoverageEligibilityResponse",
         "Something the admission desk or billing should know (stable code + message).",
         (_Part("code", "code", "Stable warning code, e.g. outside-periods", min=1),
          _Part("message", "string", "Human message", min=1),
          _Part("regime", "code", "Regime whose answer it concerns; absent: the identity"))),
    )  # fmt: skip
    out = [_simple(*entry) for entry in simple]
    out += [_complex(*entry) for entry in complex_]
    out.append(_coverage_profile())
    return tuple(out)


def _header(url: str, title: str, description: str) -> Json:
    slug = url.rsplit("/", 1)[-1]
    return {
        "resourceType": "StructureDefinition",
        "id": slug,
        "url": url,
        "name": "".join(part.capitalize() for part in slug.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": description,
        # R4 technical correction 4.0.1 (the published R4 JSON schema's enum wrongly stops at
        # 4.0.0; our tests let that one value through, see conformance/fixtures/fhir-r4/README.md).
        "fhirVersion": FHIR_VERSION,
    }


def _extension_header(url: str, title: str, context: str, description: str) -> Json:
    sd = _header(url, title, description)
    sd.update(
        {
            "kind": "complex-type",
            "abstract": False,
            "context": [{"type": "element", "expression": context}],
            "type": "Extension",
            "baseDefinition": _BASE + "Extension",
            "derivation": "constraint",
        }
    )
    return sd


def _simple(url: str, title: str, context: str, value_type: str, description: str) -> Json:
    sd = _extension_header(url, title, context, description)
    sd["differential"] = {
        "element": [
            {"id": "Extension", "path": "Extension", "short": title, "definition": description},
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": value_type}],
            },
        ]
    }
    return sd


def _complex(
    url: str, title: str, context: str, description: str, parts: tuple[_Part, ...]
) -> Json:
    sd = _extension_header(url, title, context, description)
    elements: list[Json] = [
        {"id": "Extension", "path": "Extension", "short": title, "definition": description},
        {
            "id": "Extension.extension",
            "path": "Extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
            "min": 1,
        },
    ]
    for part in parts:
        sid = f"Extension.extension:{part.name}"
        value: Json = {
            "id": f"{sid}.value[x]",
            "path": "Extension.extension.value[x]",
            "min": 1,
            "type": [{"code": part.type}],
        }
        if part.system is not None:
            value["patternCoding"] = {"system": part.system}
        elements += [
            {
                "id": sid,
                "path": "Extension.extension",
                "sliceName": part.name,
                "short": part.short,
                "min": part.min,
                "max": part.max,
            },
            {"id": f"{sid}.url", "path": "Extension.extension.url", "fixedUri": part.name},
            value,
        ]
    elements += [
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    sd["differential"] = {"element": elements}
    return sd


def _coverage_profile() -> Json:
    description = (
        "A French AMO cover read from the CDR service: base rights for one AMO period (order 1), "
        "a C2S or AME grant (order 2), or one declared work accident (AT/MP)."
    )
    sd = _header(PROFILE_COVERAGE, "CDR Coverage", description)
    sd.update(
        {
            "kind": "resource",
            "abstract": False,
            "type": "Coverage",
            "baseDefinition": _BASE + "Coverage",
            "derivation": "constraint",
        }
    )
    slices = (
        ("exoneration", EXT_EXONERATION, "*", "ETM with code and period"),
        ("modulation", EXT_MODULATION, "*", "MTM with code and period"),
        ("naturePj", EXT_NATURE_PJ, "1", "Nature of the supporting document"),
        ("sncfContract", EXT_SNCF_CONTRACT, "1", "CPRP SNCF contract"),
        ("defaultAtOrganisation", EXT_DEFAULT_AT_ORGANISATION, "1", "Default AT organisation"),
    )
    elements: list[Json] = [
        {"id": "Coverage", "path": "Coverage", "short": "CDR Coverage", "definition": description},
        {
            "id": "Coverage.extension",
            "path": "Coverage.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        },
    ]
    for name, url, maximum, short in slices:
        elements.append(
            {
                "id": f"Coverage.extension:{name}",
                "path": "Coverage.extension",
                "sliceName": name,
                "short": short,
                "min": 0,
                "max": maximum,
                "type": [{"code": "Extension", "profile": [url]}],
            }
        )
    elements += [
        _element("identifier", "AT/MP number (AT/MP Coverages only)"),
        _element("status", "Always active; the period tells whether rights hold", min_=1)
        | {"fixedCode": "active"},
        _element("type", f"v3-ActCode PUBLICPOL (AMO) or WCBPOL (AT/MP), and {CS_COVERAGE_TYPE}",
                 min_=1),
        _element("subscriber", "The ouvrant droit: the Patient (qualité 00) or a contained "
                 "RelatedPerson", min_=1),
        _element("subscriberId", "NIR of the ouvrant droit", min_=1),
        _element("relationship", "subscriber-relationship plus a cdr-qualite coding", min_=1),
        _element("period", "Period of the rights, accident or grant", min_=1),
        _element("period.start", "First day of the rights", min_=1),
        _element("payor", "The caisse (Organization with its organisation number)", min_=1,
                 max_="1") | {"type": [{"code": "Reference", "targetProfile": [
                     _BASE + "Organization"]}]},
        _element("class", "Managing organisation (AMO, AT/MP) or situation (C2S, AME), with "
                 "the CDR regime", min_=1),
        _element("order", "1 base AMO rights, 2 C2S/AME"),
    ]  # fmt: skip
    sd["differential"] = {"element": elements}
    return sd


def _element(path: str, short: str, *, min_: int | None = None, max_: str | None = None) -> Json:
    out: Json = {"id": f"Coverage.{path}", "path": f"Coverage.{path}", "short": short}
    if min_ is not None:
        out["min"] = min_
    if max_ is not None:
        out["max"] = max_
    return out
