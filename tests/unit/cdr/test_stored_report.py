"""A report read back from the store is the report that was stored: rights through their JSON
form and back, evaluations made again for the same day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from cdr.report_json import rights_to_dict
from cdr.stored_report import rights_from_dict
from rights.model import Period, SncfContract
from tests.unit.fhir_server.portal.test_views import RIGHTS


def test_rights_come_back_from_their_stored_form():
    assert rights_from_dict(rights_to_dict(RIGHTS)) == RIGHTS


def test_an_sncf_contract_and_no_medecin_traitant_come_back():
    rights = replace(
        RIGHTS,
        medecin_traitant=None,
        default_at_organisation=None,
        sncf_contract=SncfContract(("18", "22"), Period(date(2026, 1, 1), date(2026, 12, 31))),
    )
    assert rights_from_dict(rights_to_dict(rights)) == rights
