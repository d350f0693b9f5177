from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date

import pytest

from regimes.msa.codec import (
    SoapFault,
    build_request,
    fault_error,
    parse_response,
    read_fault,
)
from rights.errors import RegimeRejected, RegimeUnavailable
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

FIXTURES = Fixtures("msa")

QUERY = RightsQuery(
    nir=parse_nir("168024700100502"),
    date_of_care=date(2025, 3, 1),
    birth_date="1970-02-08",
    rang=1,
    regime="msa",
    requester=Requester(finess="2A0000014", rpps="10101010101"),
)

FULL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="ROUX",
        given_names=("CLAIRE", "ANNE"),
        birth_date="1970-02-08",
        rang=1,
        qualite=Qualite.CONJOINT,
        nir="270024700101241",
        usual_name="BERNARD",
    ),
    ouvrant_droit=OuvrantDroit(family_name="BERNARD", given_names=("PAUL",), nir="168024700100502"),
    organisation=ManagingOrganisation(
        regime_code="02", caisse="471", centre="0000", code_gestion="10", cdr_regime="msa"
    ),
    amo=(
        AmoPeriod(Period(date(2022, 1, 1), date(2024, 12, 31)), nature_pj="2"),
        AmoPeriod(Period(date(2025, 1, 1)), nature_pj="2"),
    ),
    situations=(Situation("1", Period(date(2024, 4, 1), date(2025, 3, 31))),),
    exonerations=(
        Exoneration("9", Period(date(2021, 5, 1), date(2026, 4, 30))),
        Exoneration("14", Period(date(2023, 1, 1))),
    ),
    modulations=(Exoneration("6", Period(date(2022, 9, 1))),),
    medecin_traitant=MedecinTraitant(
        family_name="GARNIER",
        given_name="LUC",
        identifier="471098765",
        period=Period(date(2019, 1, 15)),
    ),
    default_at_organisation="024710000",
    accidents=(
        AccidentDeclaration("202403150", "024710000", Period(date(2024, 3, 15), date(2024, 9, 30))),
        AccidentDeclaration("199901018", "024710000", Period(date(1999, 1, 1))),
    ),
)

MINIMAL = RegimeRights(
    beneficiary=Beneficiary(
        family_name="BERNARD",
        given_names=("PAUL",),
        birth_date="1968-02-14",
        rang=1,
        qualite=Qualite.ASSURE,
    ),
    ouvrant_droit=OuvrantDroit(family_name="BERNARD", given_names=("PAUL",), nir="168024700100502"),
    organisation=ManagingOrganisation("02", "471", "0000", "10", "msa"),
)

PROVISIONAL_LUNAR = RegimeRights(
    beneficiary=Beneficiary(
        family_name="SALAH",
        given_names=("KARIM",),
        birth_date="1982-00-00",
        rang=1,
        qualite=Qualite.ASSURE,
    ),
    ouvrant_droit=OuvrantDroit(family_name="SALAH", given_names=("KARIM",), nir="555555000012351"),
    organisation=ManagingOrganisation("02", "475", "0000", "10", "msa"),
    amo=(AmoPeriod(Period(date(2024, 10, 1), date(2025, 9, 30)), nature_pj="1"),),
    situations=(Situation("3", Period(date(2024, 10, 1), date(2025, 9, 30))),),
)

FOUND = {
    "found_full.xml": FULL,
    "found_minimal.xml": MINIMAL,
    "found_provisional_lunar.xml": PROVISIONAL_LUNAR,
}

# Each malformed answer, and what its error message must name.
MALFORMED = {
    "garbage.xml": "not XML",
    "malformed_soap12_envelope.xml": "not a SOAP 1.1 Envelope",
    "malformed_unknown_code_retour.xml": "reponseConsultationDroits/codeRetour",
    "malformed_missing_beneficiaire.xml": "reponseConsultationDroits/beneficiaire: missing",
    "malformed_iso_date.xml": "beneficiaire/dateNaissance",
    "malformed_impossible_period.xml": "droitsAmo/periodeDroits[1]/dateDebut",
    "malformed_rang_zero.xml": "beneficiaire/rangNaissance",
    "malformed_reversed_period.xml": "periodeDroits[1]/dateFin: 2024-12-31 is before",
    "malformed_short_centre.xml": "organismeGestionnaire/centre: '000' does not match",
    "malformed_situation_code.xml": "situation[1]/codeSituation: '11' does not match",
    "malformed_entity_declaration.xml": "DOCTYPE and entity declarations are refused",
    "malformed_latin1.xml": "not UTF-8",
}

FAULTS = {
    "fault_client.xml": SoapFault(
        code="Client",
        message="NIR key 99 is wrong: expected 02",
        error_code="NIR_INVALIDE",
        field="identification/nir",
    ),
    "fault_server.xml": SoapFault(
        code="Server", message="Référentiel des droits momentanément indisponible"
    ),
}

OTHERS = {"request.xml", "unknown.xml"}


def canonical(payload: bytes) -> str:
    # C14N 2.0 without the indentation: what a SOAP peer reads, whatever the layout.
    return ET.canonicalize(payload.decode("utf-8"), strip_text=True)


def test_every_fixture_file_is_exercised():
    on_disk = {path.name for path in FIXTURES.path.iterdir()}
    assert on_disk == set(FOUND) | set(MALFORMED) | set(FAULTS) | OTHERS


@pytest.mark.parametrize("name", sorted(FOUND), ids=str)
def test_found_answer_parses_to_the_rights(name):
    assert parse_response(FIXTURES.read(name), "msa") == FOUND[name]


def test_unknown_person_is_none():
    assert parse_response(FIXTURES.read("unknown.xml"), "msa") is None


@pytest.mark.parametrize("name", sorted(MALFORMED), ids=str)
def test_malformed_answer_is_rejected_naming_the_fault(name):
    with pytest.raises(RegimeRejected) as caught:
        parse_response(FIXTURES.read(name), "msa")
    assert caught.value.regime == "msa"
    assert MALFORMED[name] in caught.value.message
    assert not caught.value.transient


@pytest.mark.parametrize("name", sorted(FAULTS), ids=str)
def test_fault_is_read_with_its_detail(name):
    assert read_fault(FIXTURES.read(name)) == FAULTS[name]


@pytest.mark.parametrize("name", ["found_full.xml", "unknown.xml", "garbage.xml"], ids=str)
def test_anything_but_a_fault_reads_as_no_fault(name):
    assert read_fault(FIXTURES.read(name)) is None


def test_client_fault_is_a_rejection_naming_the_regime_code():
    error = fault_error(FAULTS["fault_client.xml"], "msa")
    assert isinstance(error, RegimeRejected)
    assert error.regime == "msa"
    assert error.message == (
        "msa: SOAP fault Client: NIR key 99 is wrong: expected 02 "
        "(NIR_INVALIDE at identification/nir)"
    )


@pytest.mark.parametrize("code", ["Server", "Server.Busy"], ids=str)
def test_server_fault_makes_the_regime_unavailable(code):
    error = fault_error(SoapFault(code=code, message="down"), "msa")
    assert isinstance(error, RegimeUnavailable)
    assert error.regime == "msa"


@pytest.mark.parametrize("code", ["VersionMismatch", "MustUnderstand", "Client.Auth", ""], ids=repr)
def test_other_faults_are_the_caller_s(code):
    assert isinstance(fault_error(SoapFault(code=code, message="no"), "msa"), RegimeRejected)


@pytest.mark.parametrize(
    ("name", "error"),
    [("fault_client.xml", RegimeRejected), ("fault_server.xml", RegimeUnavailable)],
    ids=["client", "server"],
)
def test_a_fault_where_an_answer_was_expected_raises_its_error(name, error):
    with pytest.raises(error):
        parse_response(FIXTURES.read(name), "msa")


def test_request_is_the_committed_request():
    assert canonical(build_request(QUERY)) == canonical(FIXTURES.read("request.xml"))


def test_request_keeps_the_spec_prefixes():
    payload = build_request(QUERY)
    assert payload.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope ")
    assert b"<msa:demandeConsultationDroits " in payload


def test_request_without_birth_date_identifies_by_nir_and_rang():
    root = ET.fromstring(build_request(replace(QUERY, birth_date=None, rang=2)))
    ns = {"msa": "urn:cdr-gateway:msa:consultation-droits:1"}
    identification = root.find(".//msa:identification", ns)
    assert identification is not None
    assert [child.tag.split("}")[1] for child in identification] == ["nir", "rangNaissance"]
    assert identification.findtext("msa:rangNaissance", namespaces=ns) == "2"


def test_lunar_birth_date_is_sent_as_on_the_card():
    root = ET.fromstring(build_request(replace(QUERY, birth_date="1982-00-00")))
    ns = {"msa": "urn:cdr-gateway:msa:consultation-droits:1"}
    assert root.findtext(".//msa:dateNaissance", namespaces=ns) == "00/00/1982"


def test_msa_provisional_number_is_sent_as_is():
    query = replace(QUERY, nir=parse_nir("555555000012351"))
    assert b"<msa:nir>555555000012351</msa:nir>" in build_request(query)
