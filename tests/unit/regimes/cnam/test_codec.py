from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from regimes.cnam.codec import build_request, error_message, parse_response
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from rights.model import (
    AccidentDeclaration,
    AmoPeriod,
    Beneficiary,
    Exoneration,
    ManagingOrganisation,
    MedecinTraitant,
    OuvrantDroit,
    Period,
    Qualite,
    RegimeRights,
    Requester,
    RightsQuery,
    Situation,
)
from tests.unit.regimes.helpers import Fixtures

FIXTURES = Fixtures("cnam")

QUERY = RightsQuery(
    nir=parse_nir("180057505604226"),
    date_of_care=date(2025, 3, 1),
    birth_date="1985-05-12",
    rang=1,
    regime="cnam",
    requester=Requester(finess="750712184", rpps="10101010101"),
)

FULL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="MARTIN",
        given_names=("MARIE", "LOUISE"),
        birth_date="1985-05-12",
        rang=1,
        qualite=Qualite.CONJOINT,
        nir="285057505612338",
        usual_name="DUPONT",
    ),
    ouvrant_droit=OuvrantDroit(
        family_name="DUPONT", given_names=("JEAN", "PIERRE"), nir="180057505604226"
    ),
    organisation=ManagingOrganisation(
        regime_code="01", caisse="671", centre="0000", code_gestion="10", cdr_regime="cnam"
    ),
    amo=(
        AmoPeriod(Period(date(2023, 1, 1), date(2023, 12, 31)), nature_pj="2"),
        AmoPeriod(Period(date(2024, 1, 1)), nature_pj="2"),
    ),
    situations=(
        Situation("1", Period(date(2023, 1, 1), date(2023, 12, 31))),
        Situation("3", Period(date(2024, 7, 1), date(2025, 6, 30))),
    ),
    exonerations=(
        Exoneration("8", Period(date(2023, 6, 1), date(2028, 5, 31))),
        Exoneration("6", Period(date(2025, 1, 10), date(2025, 10, 31))),
    ),
    modulations=(Exoneration("9", Period(date(2024, 1, 1))),),
    medecin_traitant=MedecinTraitant(
        family_name="LEROY",
        given_name="SOPHIE",
        identifier="671012345",
        period=Period(date(2020, 9, 1)),
    ),
    default_at_organisation="016710000",
    accidents=(
        AccidentDeclaration("123456782", "016710000", Period(date(2024, 3, 15), date(2024, 6, 30))),
        AccidentDeclaration("876543216", "016710000", Period(date(2024, 9, 1))),
    ),
)

MINIMAL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="DUPONT",
        given_names=("JEAN",),
        birth_date="1980-05-12",
        rang=1,
        qualite=Qualite.ASSURE,
    ),
    ouvrant_droit=OuvrantDroit(family_name="DUPONT", given_names=("JEAN",), nir="180057505604226"),
    organisation=ManagingOrganisation("01", "751", "0000", "10", "cnam"),
)

AME_LUNAR = RegimeRights(
    beneficiary=Beneficiary(
        family_name="NGUYEN",
        given_names=("THI", "LAN"),
        birth_date="1982-00-00",
        rang=2,
        qualite=Qualite.ASSURE,
    ),
    ouvrant_droit=OuvrantDroit(
        family_name="NGUYEN", given_names=("THI", "LAN"), nir="827510000123490"
    ),
    organisation=ManagingOrganisation("01", "751", "0000", "10", "cnam"),
    amo=(AmoPeriod(Period(date(2024, 9, 1), date(2025, 8, 31)), nature_pj="1"),),
    situations=(Situation("10", Period(date(2024, 9, 1), date(2025, 8, 31))),),
)

FOUND = {
    "found_full.json": FULL,
    "found_minimal.json": MINIMAL,
    "found_ame_lunar.json": AME_LUNAR,
}

# Each malformed answer, and the place its error message must name.
MALFORMED = {
    "garbage.json": "not JSON",
    "malformed_not_an_object.json": "not a JSON object",
    "malformed_unknown_status.json": "statut.code",
    "malformed_missing_beneficiaire.json": "beneficiaire: missing",
    "malformed_iso_date.json": "organisme.periodesDroits[0].periode.dateDebut",
    "malformed_rang_as_text.json": "beneficiaire.rangNaissance",
    "malformed_short_accident_number.json": "accidentsTravail[0].numero",
    "malformed_unknown_qualite.json": "beneficiaire.qualite",
    "malformed_reversed_period.json": "situations[0].periode.dateFin: 2024-12-31 is before",
    "malformed_short_caisse.json": "organisme.caisse: '75' does not match",
    "malformed_situation_code.json": "situations[0].codeSituation: '4' does not match",
}

OTHERS = {
    "request.json",
    "unknown.json",
    "error_400_nir_invalide.json",
    "error_500_erreur_interne.json",
}


def test_every_fixture_file_is_exercised():
    on_disk = {path.name for path in FIXTURES.path.iterdir()}
    assert on_disk == set(FOUND) | set(MALFORMED) | OTHERS


@pytest.mark.parametrize("name", sorted(FOUND), ids=str)
def test_found_answer_parses_to_the_rights(name):
    assert parse_response(FIXTURES.read(name), "cnam") == FOUND[name]


def test_catalogue_code_becomes_the_cdr_regime():
    rights = parse_response(FIXTURES.read("found_minimal.json"), "cnam-test")
    assert rights is not None
    assert rights.organisation.cdr_regime == "cnam-test"


def test_unknown_person_is_none():
    assert parse_response(FIXTURES.read("unknown.json"), "cnam") is None


@pytest.mark.parametrize("name", sorted(MALFORMED), ids=str)
def test_malformed_answer_is_rejected_naming_the_fault(name):
    with pytest.raises(RegimeRejected) as caught:
        parse_response(FIXTURES.read(name), "cnam")
    assert caught.value.regime == "cnam"
    assert MALFORMED[name] in caught.value.message
    assert not caught.value.transient


def test_request_is_the_committed_request():
    assert json.loads(build_request(QUERY)) == json.loads(FIXTURES.read("request.json"))


def test_request_without_birth_date_sends_identification_by_nir_and_rang():
    payload = json.loads(build_request(replace(QUERY, birth_date=None, rang=2)))
    assert payload["identification"] == {"nir": "180057505604226", "rangNaissance": 2}


def test_lunar_birth_date_is_sent_as_on_the_card():
    payload = json.loads(build_request(replace(QUERY, birth_date="1982-00-00")))
    assert payload["identification"]["dateNaissance"] == "19820000"


def test_coded_error_body_gives_code_field_and_label():
    message = error_message(FIXTURES.read("error_400_nir_invalide.json"), "cnam")
    assert message == (
        "cnam: request refused (NIR_INVALIDE at identification.nir): "
        "NIR key 99 is wrong: expected 26"
    )


def test_unreadable_error_body_still_gives_a_message():
    message = error_message(FIXTURES.read("garbage.json"), "cnam")
    assert message.startswith("cnam: request refused (HTTP 400): <html>")
