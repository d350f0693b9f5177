"""The professional the session keeps, made from Pro Santé Connect's UserInfo claims."""

from __future__ import annotations

import pytest

from fhir_server.portal.professional import Professional, professional_from_userinfo
from sandbox.psc import PROFESSIONALS


def test_the_psc_claims_name_the_professional_and_their_structure():
    person = PROFESSIONALS[0]
    user = professional_from_userinfo(person.userinfo())
    assert user.national_id == "8" + person.rpps
    assert user.rpps == person.rpps
    assert user.display_name == "Claire MARTIN"
    assert user.profession == "Médecin"
    assert user.structure == person.structure_name
    assert user.structure_finess == person.structure_finess
    assert user.login == "psc"


def test_an_adeli_professional_keeps_an_rpps_from_other_ids():
    claims = {
        "SubjectNameID": "0123456789",
        "otherIds": [{"identifiant": "10000000099", "origine": "RPPS"}],
        "family_name": "DURAND",
        "given_name": "Paul",
    }
    user = professional_from_userinfo(claims)
    assert user.rpps == "10000000099" and user.family_name == "DURAND"
    assert user.profession == ""


def test_claims_naming_nobody_are_refused():
    with pytest.raises(ValueError):
        professional_from_userinfo({"family_name": "X"})


def test_the_session_form_round_trips_and_rejects_garbage():
    user = professional_from_userinfo(PROFESSIONALS[1].userinfo())
    assert Professional.from_session(user.to_session()) == user
    assert Professional.from_session({"national_id": "8"}) is None
    assert Professional.from_session("nobody") is None
