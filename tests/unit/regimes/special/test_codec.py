from __future__ import annotations

from datetime import date

import pytest

from regimes.special import codec
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
    SncfContract,
)
from tests.unit.regimes.helpers import Fixtures

FIXTURES = Fixtures("special")

# What found_full.json holds: the spouse of a CPRP SNCF agent.
FULL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="PETIT",
        given_names=("Élodie", "Marie"),
        birth_date="1978-05-02",
        rang=1,
        qualite=Qualite.CONJOINT,
        nir="278057511230274",
        usual_name="MARCHAND",
    ),
    ouvrant_droit=OuvrantDroit("MARCHAND", ("Julien",), "175057511230178"),
    organisation=ManagingOrganisation("04", "110", "0000", "10", "cprpf"),
    amo=(AmoPeriod(Period(date(2004, 6, 12)), "2"),),
    situations=(Situation("1", Period(date(2025, 11, 1), date(2026, 10, 31))),),
    exonerations=(
        Exoneration("14", Period(date(2022, 6, 1))),
        Exoneration("8", Period(date(2023, 4, 12), date(2028, 4, 11))),
    ),
    modulations=(Exoneration("6", Period(date(2020, 3, 1))),),
    medecin_traitant=MedecinTraitant("BERNARD", "Claire", "751456789", Period(date(2017, 1, 5))),
    sncf_contract=SncfContract(("18", "23"), Period(date(2004, 6, 12))),
)

QUERY = RightsQuery(
    nir=parse_nir("278057511230274"),
    date_of_care=date(2026, 3, 2),
    birth_date="1978-05-02",
    rang=1,
    regime="cprpf",
    requester=Requester(finess="2A0000014", rpps="10003456789"),
)


@pytest.mark.parametrize("name", FIXTURES.names("found_*.json"), ids=str)
def test_every_found_answer_parses_without_atmp(name):
    rights = codec.payload_to_rights(FIXTURES.load(name), "enim")
    assert rights is not None
    assert rights.organisation.cdr_regime == "enim"
    assert rights.amo
    assert rights.accidents == ()
    assert rights.default_at_organisation is None


def test_full_answer_fills_every_block_with_the_sncf_contract():
    assert codec.payload_to_rights(FIXTURES.load("found_full.json"), "cprpf") == FULL


def test_minimal_answer_keeps_the_lunar_birth_date_and_leaves_options_empty():
    rights = codec.payload_to_rights(FIXTURES.load("found_minimal.json"), "cnmss")
    assert rights is not None
    assert rights.beneficiary == Beneficiary(
        family_name="LAMBERT",
        given_names=("Yann",),
        birth_date="1982-04-00",
        rang=1,
        qualite=Qualite.ASSURE,
    )
    assert rights.ouvrant_droit == OuvrantDroit("LAMBERT", ("Yann",), "182046938811235")
    assert rights.organisation == ManagingOrganisation("08", "756", "0100", "10", "cnmss")
    assert rights.amo == (AmoPeriod(Period(date(2001, 9, 3)), "2"),)
    assert rights.situations == ()
    assert rights.exonerations == rights.modulations == ()
    assert rights.medecin_traitant is None
    assert rights.sncf_contract is None


def test_explicit_nulls_read_as_absent():
    rights = codec.payload_to_rights(FIXTURES.load("found_explicit_nulls.json"), "ccas-ratp")
    assert rights is not None
    assert rights.beneficiary.nir is None
    assert rights.beneficiary.usual_name is None
    assert rights.beneficiary.rang == 2
    assert rights.beneficiary.qualite is Qualite.ENFANT
    assert rights.amo == (AmoPeriod(Period(date(2010, 1, 1), date(2024, 12, 31)), "2"),)
    assert rights.exonerations == ()
    assert rights.medecin_traitant is None
    assert rights.sncf_contract is None


def test_not_found_is_none():
    assert codec.payload_to_rights(FIXTURES.load("unknown_person.json"), "cnmss") is None


@pytest.mark.parametrize("name", FIXTURES.names("malformed_*.json"), ids=str)
def test_malformed_answer_is_rejected_naming_the_field(name):
    with pytest.raises(RegimeRejected) as caught:
        codec.payload_to_rights(FIXTURES.load(name), "cprpf")
    assert caught.value.regime == "cprpf"
    assert "malformed special answer at $" in caught.value.message


def test_rejection_names_the_path_of_the_fault():
    with pytest.raises(RegimeRejected, match=r"\$\.periodes\[0\]\.date_debut: not a date"):
        codec.payload_to_rights(FIXTURES.load("malformed_impossible_date.json"), "cnmss")
    with pytest.raises(RegimeRejected, match=r"\$\.contrat_complements\[0\]: not 22-25"):
        codec.payload_to_rights(FIXTURES.load("malformed_contract_complement.json"), "cprpf")


def test_error_summary_gives_the_error_code_and_message():
    assert codec.error_summary(FIXTURES.load("error_422.json")) == (
        "DATE_SOINS_INVALIDE: attendu AAAA-MM-JJ, reçu '02/03/2026'"
    )
    assert codec.error_summary([]) == "no error details"
    assert codec.error_summary({"erreur": 42}) == "no error details"


def test_request_matches_the_committed_request_fixture():
    expected = FIXTURES.load("request.json")
    assert isinstance(expected, dict)
    assert codec.droits_path("cprpf") == expected["path"]
    assert codec.query_to_body(QUERY) == expected["body"]


def test_request_without_birth_date_leaves_the_field_out():
    query = RightsQuery(nir=parse_nir("1820469388112"), date_of_care=date(2026, 1, 5), rang=3)
    assert codec.query_to_body(query) == {
        "nir": "182046938811235",
        "rang": 3,
        "date_soins": "2026-01-05",
    }
