from __future__ import annotations

from datetime import date

import pytest

from regimes.slm import codec
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from rights.model import (
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

FIXTURES = Fixtures("slm")

# What found_full.json holds, block by block.
FULL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="LEROY",
        given_names=("Inès", "Maëlle"),
        birth_date="2012-03-08",
        rang=1,
        qualite=Qualite.ENFANT,
        nir="212036748204521",
        usual_name="LEROY-KLEIN",
    ),
    ouvrant_droit=OuvrantDroit("KLEIN", ("Sophie", "Anne"), "284076748201777"),
    organisation=ManagingOrganisation("91", "671", "0506", "23", "mgen"),
    amo=(
        AmoPeriod(Period(date(2012, 3, 8), date(2019, 8, 31)), "2"),
        AmoPeriod(Period(date(2019, 9, 1)), "2"),
    ),
    situations=(
        Situation("10", Period(date(2018, 1, 10), date(2019, 1, 9))),
        Situation("3", Period(date(2025, 7, 1), date(2026, 6, 30))),
    ),
    exonerations=(
        Exoneration("8", Period(date(2021, 1, 15), date(2026, 1, 14))),
        Exoneration("16", Period(date(2024, 2, 1))),
    ),
    modulations=(Exoneration("9", Period(date(2019, 9, 1))),),
    medecin_traitant=MedecinTraitant("NGUYEN", "Thi Lan", "671234567", Period(date(2019, 10, 1))),
)

QUERY = RightsQuery(
    nir=parse_nir("212036748204521"),
    date_of_care=date(2026, 3, 2),
    birth_date="2012-03-08",
    rang=1,
    regime="mgen",
    requester=Requester(finess="750712184", rpps="10003456789"),
)


@pytest.mark.parametrize("name", FIXTURES.names("found_*.json"), ids=str)
def test_every_found_answer_parses_without_atmp(name):
    rights = codec.payload_to_rights(FIXTURES.load(name), "interiale")
    assert rights.organisation.cdr_regime == "interiale"
    assert rights.amo
    assert rights.accidents == ()
    assert rights.default_at_organisation is None
    assert rights.sncf_contract is None


def test_full_answer_fills_every_block():
    assert codec.payload_to_rights(FIXTURES.load("found_full.json"), "mgen") == FULL


def test_minimal_answer_keeps_the_lunar_birth_date_and_leaves_options_empty():
    rights = codec.payload_to_rights(FIXTURES.load("found_minimal.json"), "maee")
    assert rights.beneficiary == Beneficiary(
        family_name="OKAFOR",
        given_names=("Chidi",),
        birth_date="1961-02-00",
        rang=1,
        qualite=Qualite.ASSURE,
    )
    assert rights.ouvrant_droit.nir == "161029912345668"
    assert rights.organisation == ManagingOrganisation("94", "751", "0533", "10", "maee")
    assert rights.amo == (AmoPeriod(Period(date(2015, 4, 1)), "2"),)
    assert rights.situations == ()
    assert rights.exonerations == rights.modulations == ()
    assert rights.medecin_traitant is None


def test_types_this_adapter_does_not_know_are_skipped_never_read_as_atmp():
    rights = codec.payload_to_rights(FIXTURES.load("found_foreign_types.json"), "interiale")
    assert rights.amo == (AmoPeriod(Period(date(2012, 9, 1), date(2025, 12, 31)), "2"),)
    assert rights.accidents == ()
    assert rights.ouvrant_droit.nir == "190112B03304515"
    assert rights.beneficiary.rang == 2


@pytest.mark.parametrize("name", FIXTURES.names("malformed_*.json"), ids=str)
def test_malformed_answer_is_rejected_naming_the_field(name):
    with pytest.raises(RegimeRejected) as caught:
        codec.payload_to_rights(FIXTURES.load(name), "mgen")
    assert caught.value.regime == "mgen"
    assert "malformed slm answer at $" in caught.value.message


def test_rejection_names_the_path_of_the_fault():
    with pytest.raises(RegimeRejected, match=r"\$\.couvertures\[0\]\.periode\.debut"):
        codec.payload_to_rights(FIXTURES.load("malformed_impossible_date.json"), "mgen")
    with pytest.raises(RegimeRejected, match=r"\$\.organisme: missing"):
        codec.payload_to_rights(FIXTURES.load("malformed_missing_organisme.json"), "mgen")


def test_only_the_unknown_beneficiary_problem_means_unknown_person():
    assert codec.is_unknown_person(FIXTURES.load("unknown_person.json"))
    assert not codec.is_unknown_person(FIXTURES.load("error_other_404.json"))
    assert not codec.is_unknown_person(FIXTURES.load("error_bad_request.json"))
    assert not codec.is_unknown_person(["urn:cdr:sandbox:slm:probleme:beneficiaire-inconnu"])


def test_problem_summary_gives_title_detail_and_code():
    summary = codec.problem_summary(FIXTURES.load("error_bad_request.json"))
    assert summary.startswith("Requête invalide: Paramètre dateSoins invalide")
    assert summary.endswith("(SLM-400-01)")
    assert codec.problem_summary("oops") == "no problem details"
    assert codec.problem_summary({}) == "no problem details"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/problem+json", True),
        ("Application/Problem+JSON; charset=utf-8", True),
        ("application/json", False),
        ("text/plain", False),
        ("", False),
        (None, False),
    ],
)
def test_is_problem_reads_the_media_type(content_type, expected):
    assert codec.is_problem(content_type) is expected


def test_request_matches_the_committed_request_fixture():
    expected = FIXTURES.load("request.json")
    assert isinstance(expected, dict)
    assert codec.droits_path("mgen", QUERY) == expected["path"]
    assert codec.query_to_params(QUERY) == expected["params"]


def test_request_without_birth_date_leaves_the_parameter_out():
    query = RightsQuery(nir=parse_nir("1610299123456"), date_of_care=date(2026, 1, 5), rang=2)
    assert codec.query_to_params(query) == {"rang": "2", "dateSoins": "2026-01-05"}
    # A 13-character NIR is sent with its key, as the insurers index the 15 characters.
    assert codec.droits_path("maee", query).endswith("/beneficiaires/161029912345668/droits")
