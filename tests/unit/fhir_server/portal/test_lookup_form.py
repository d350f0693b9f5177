"""The consultation form's checks: the NIR key preview, French dates, and every field's error
in French, the typed values kept."""

from __future__ import annotations

from datetime import date

import pytest

from fhir_server.portal.lookup_form import LookupForm, nir_preview, parse_french_date
from rights.catalogue import default_catalogue
from rights.identifiers import nir_key
from rights.model import Requester

TODAY = date(2026, 12, 8)
BODY = "1620475114123"
KEY = nir_key(BODY)


def test_the_preview_counts_until_thirteen_characters():
    assert nir_preview("16204").message == "5 caractère(s) sur 13, puis la clé (2)"
    assert nir_preview("16204").expected_key is None


def test_the_preview_shows_the_expected_key():
    preview = nir_preview(BODY)
    assert preview.expected_key == KEY
    assert preview.message == f"Clé attendue : {KEY}"


def test_the_preview_says_whether_the_typed_key_is_right():
    assert nir_preview(f"1 62 04 75 114 123 {KEY}").message == f"Clé {KEY} correcte"
    wrong = f"{(int(KEY) + 1) % 97:02d}"
    assert nir_preview(BODY + wrong).message == f"Clé {wrong} fausse : la clé attendue est {KEY}"


def test_the_preview_reads_corsica():
    body = "162042A114123"
    assert nir_preview(body).expected_key == nir_key(body)


@pytest.mark.parametrize(
    ("typed", "iso"),
    [("08/12/2026", "2026-12-08"), ("8/1/2026", "2026-01-08"), ("2026-12-08", "2026-12-08")],
)
def test_french_dates(typed, iso):
    assert parse_french_date(typed) == iso


def test_a_date_that_is_no_date_is_refused():
    with pytest.raises(ValueError):
        parse_french_date("le 8 décembre")


def _query(**fields):
    form = LookupForm.from_fields(fields, TODAY)
    query = form.to_query("cnam", default_catalogue(), Requester("750100018", "10000000012"), TODAY)
    return form, query


def test_a_good_form_makes_the_query():
    form, query = _query(nir=BODY + KEY, birth_date="17/04/1962", rang="2", date_of_care="")
    assert form.errors == {}
    assert query is not None
    assert query.nir.value == BODY + KEY
    assert query.birth_date == "1962-04-17"
    assert query.rang == 2
    assert query.date_of_care == TODAY  # default: today
    assert query.regime == "cnam"
    assert query.requester.rpps == "10000000012"


def test_every_error_is_found_at_once_in_french_and_the_input_kept():
    wrong = f"{(int(KEY) + 1) % 97:02d}"
    form, query = _query(
        nir=BODY + wrong, birth_date="01/01/2999", rang="12", date_of_care="31/02/2026"
    )
    assert query is None
    assert form.errors["nir"] == (
        f"La clé du NIR est fausse : pour ce numéro, la clé attendue est {KEY}."
    )
    assert "impossible" in form.errors["birth_date"]
    assert form.errors["rang"] == "Le rang de naissance est un chiffre de 1 à 9."
    assert "n'existe pas" in form.errors["date_of_care"]
    assert (form.nir, form.birth_date, form.rang, form.date_of_care) == (
        BODY + wrong,
        "01/01/2999",
        "12",
        "31/02/2026",
    )


def test_a_short_nir_and_a_care_date_too_far_ahead():
    form, query = _query(nir="16204", date_of_care="01/01/2030")
    assert query is None
    assert form.errors["nir"] == "Le NIR compte 13 caractères, ou 15 avec sa clé."
    assert "plus d'un an" in form.errors["date_of_care"]


def test_a_malformed_birth_date_asks_for_the_format():
    form, _ = _query(nir=BODY, birth_date="17041962")
    assert form.errors["birth_date"] == "Saisissez la date de naissance au format JJ/MM/AAAA."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("9620475114123", "Le NIR commence par le sexe (1 à 8)"),
        ("1621375114123", "Le mois de naissance (4e et 5e caractères) n'existe pas."),
        ("1620400114123", "Le département de naissance (6e et 7e caractères) n'existe pas."),
    ],
    ids=["sex", "month", "department"],
)
def test_a_body_that_cannot_be_a_nir_is_said_while_typing_and_on_submit(body, message):
    preview = nir_preview(body)
    assert preview.message.startswith(message) and preview.expected_key is None
    form, query = _query(nir=body)
    assert query is None and form.errors["nir"].startswith(message)
