"""The beneficiary as a FHIR Patient (FR Core style) and the médecin traitant as a Practitioner.

The Patient's id is the person as the regimes know them (``person_id``): the same whether the
client sent a birth date, a contained Patient or a bare identifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mapping.fhir.common import (
    EXT_LUNAR_BIRTH_DATE,
    EXT_RANG,
    SYSTEM_AM_NUMBER,
    SYSTEM_NIA,
    SYSTEM_NIR,
    SYSTEM_NIR_DEMO,
    SYSTEM_NIR_TEST,
)
from mapping.fhir.ids import patient_id, practitioner_id
from mapping.fhir.terms import (
    CS_FR_CORE_V2_0203,
    CS_V2_0203,
    EXT_MEDECIN_TRAITANT_PERIOD,
    SYSTEM_RPPS,
)
from mapping.fhir.values import (
    Json,
    calendar_date,
    coding,
    extension,
    in_order,
    period_json,
    reference,
)
from rights.model import Beneficiary, MedecinTraitant, RegimeRights, RightsQuery

__all__ = ["medecin_to_practitioner", "patient_to_fhir", "person_id"]

_PATIENT_ELEMENTS = ("identifier", "name", "gender", "birthDate", "generalPractitioner")
_GENDERS = frozenset({"male", "female", "other", "unknown"})
_NAME_USES = frozenset({"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"})
# Identifier types with their code systems' displays (THO v2-0203; FR Core fr-core-cs-v2-0203).
_NSS = coding(CS_V2_0203, "NH", "National Health Plan Identifier")
_INS_NIA = coding(CS_FR_CORE_V2_0203, "INS-NIA", "NIR temporaire")
_INS_NIR_TEST = coding(CS_FR_CORE_V2_0203, "INS-NIR-TEST", "NIR TEST")
_INS_NIR_DEMO = coding(CS_FR_CORE_V2_0203, "INS-NIR-DEMO", "NIR DEMO")
# A submitted birthDate may be partial, as FHIR ``date`` allows: 1950 or 1950-03.
_PARTIAL_DATE = re.compile(r"[1-9][0-9]{3}(-(0[1-9]|1[0-2]))?")


def patient_to_fhir(
    query: RightsQuery,
    found: Sequence[RegimeRights],
    submitted: Mapping[str, Any] | None,
) -> tuple[Json, tuple[Json, ...]]:
    """The Patient and the Practitioners its ``generalPractitioner`` points to.

    ``found`` holds the rights of every regime that knows the person, the most relevant first
    (in force before not); the Patient's identity comes from the first. Without any, the
    Patient is what the client sent (names, birth date) plus the NIR asked for.
    """
    pid = person_id(query, found)
    first = found[0].beneficiary if found else None
    patient: Json = {"resourceType": "Patient", "id": pid}
    extensions = [extension(EXT_RANG, valuePositiveInt=first.rang if first else query.rang)]
    patient["identifier"] = [_nss_identifier(query, first, submitted)]
    names = _names_of(first) if first else _submitted_names(query, submitted)
    if names:
        patient["name"] = names
    gender = _gender(first, submitted)
    if gender:
        patient["gender"] = gender
    birth = first.birth_date if first else _submitted_birth_date(submitted) or query.birth_date
    if birth and (calendar_date(birth) is not None or _PARTIAL_DATE.fullmatch(birth)):
        patient["birthDate"] = birth
    elif birth:
        # birthDate must be a real date; the lunar date is transmitted as on the card.
        extensions.append(extension(EXT_LUNAR_BIRTH_DATE, valueString=birth))
    patient["extension"] = extensions

    practitioners: dict[str, Json] = {}
    links: list[Json] = []
    for rights in found:
        mt = rights.medecin_traitant
        if mt is None:
            continue
        practitioner = medecin_to_practitioner(mt)
        if practitioner["id"] in practitioners:
            continue
        practitioners[practitioner["id"]] = practitioner
        link = reference("Practitioner", practitioner["id"], _display(mt))
        # The declaration has a period; a Reference may carry it, the Practitioner may not.
        link["extension"] = [
            extension(EXT_MEDECIN_TRAITANT_PERIOD, valuePeriod=period_json(mt.period))
        ]
        links.append(link)
    if links:
        patient["generalPractitioner"] = links
    return in_order(patient, _PATIENT_ELEMENTS), tuple(practitioners.values())


def person_id(query: RightsQuery, found: Sequence[RegimeRights]) -> str:
    """The Patient's id: from the beneficiary the regimes answered for (ouvrant droit's NIR,
    birth date, rang), else, when none knows the person, from what was asked. Should two regimes
    describe the person differently, the smallest id wins, whatever order they answered in."""
    if not found:
        return patient_id(query.nir.value, query.birth_date, query.rang)
    return min(
        patient_id(
            r.ouvrant_droit.nir or query.nir.value, r.beneficiary.birth_date, r.beneficiary.rang
        )
        for r in found
    )


def medecin_to_practitioner(mt: MedecinTraitant) -> Json:
    value = "".join(mt.identifier.split())
    # An 11-digit identifier is an RPPS number (entered by hand); otherwise the n° AM (CDRi 03.03).
    system = SYSTEM_RPPS if len(value) == 11 and value.isdigit() else SYSTEM_AM_NUMBER
    name: Json = {"family": mt.family_name}
    if mt.given_name:
        name["given"] = [mt.given_name]
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id(value),
        "identifier": [{"system": system, "value": value}],
        "name": [name],
    }


def _display(mt: MedecinTraitant) -> str:
    return f"{mt.given_name} {mt.family_name}".strip()


def _nss_identifier(
    query: RightsQuery, first: Beneficiary | None, submitted: Mapping[str, Any] | None
) -> Json:
    """The billing NIR, typed as FR Core types its system.

    A real NIR enters FR Core Patient's NSS slice (use official, v2-0203#NH, system …4.8). NIA, test
    and demo numbers must not: that slice fixes its system to …4.8 and is discriminated by type and
    use, so they carry FR Core's own types (FRCorePatientINS slices INS-NIA, INS-NIR-TEST,
    INS-NIR-DEMO: use temp for a NIA, official for the others)."""
    nir = query.nir
    if nir.is_nia:
        system, use, kind = SYSTEM_NIA, "temp", _INS_NIA
    elif nir.is_test:
        # rights.Nir marks test and demo alike; the client's own identifier tells them apart.
        demo = any(
            isinstance(i, Mapping) and i.get("system") == SYSTEM_NIR_DEMO
            for i in _list(submitted, "identifier")
        )
        system, use = (SYSTEM_NIR_DEMO, "official") if demo else (SYSTEM_NIR_TEST, "official")
        kind = _INS_NIR_DEMO if demo else _INS_NIR_TEST
    else:
        system, use, kind = SYSTEM_NIR, "official", _NSS
    value = first.nir if first is not None and first.nir else nir.value
    return {"use": use, "type": {"coding": [kind]}, "system": system, "value": value}


def _names_of(person: Beneficiary) -> list[Json]:
    names: list[Json] = [{"use": "official", "family": person.family_name}]
    if person.given_names:
        names[0]["given"] = list(person.given_names)
    if person.usual_name:
        names.append({"use": "usual", "family": person.usual_name})
    return names


def _submitted_names(query: RightsQuery, submitted: Mapping[str, Any] | None) -> list[Json]:
    """The client's names, keeping only well-formed HumanName parts; else the query's."""
    names: list[Json] = []
    for raw in _list(submitted, "name"):
        if not isinstance(raw, Mapping):
            continue
        name: Json = {}
        if raw.get("use") in _NAME_USES:
            name["use"] = raw["use"]
        for key in ("text", "family"):
            if isinstance(raw.get(key), str) and raw[key].strip():
                name[key] = raw[key]
        for key in ("given", "prefix", "suffix"):
            parts = [p for p in _list(raw, key) if isinstance(p, str) and p.strip()]
            if parts:
                name[key] = parts
        if name.keys() - {"use"}:
            names.append(name)
    if names:
        return names
    if query.family_name or query.given_name:
        name = {}
        if query.family_name:
            name["family"] = query.family_name
        if query.given_name:
            name["given"] = [query.given_name]
        return [name]
    return []


def _submitted_birth_date(submitted: Mapping[str, Any] | None) -> str | None:
    value = submitted.get("birthDate") if submitted else None
    return value if isinstance(value, str) and value else None


def _gender(person: Beneficiary | None, submitted: Mapping[str, Any] | None) -> str | None:
    # The first digit of a certified NIR is the sex at registration: 1 male, 2 female.
    if person is not None and person.nir and person.nir[0] in "12":
        return "male" if person.nir[0] == "1" else "female"
    value = submitted.get("gender") if submitted else None
    return value if value in _GENDERS else None


def _list(source: Mapping[str, Any] | None, key: str) -> list[Any]:
    value = source.get(key) if source else None
    return value if isinstance(value, list) else []
