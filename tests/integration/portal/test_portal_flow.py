"""The portal as a browser meets it, over real sockets: Pro Santé Connect login against the
sandbox's provider, the terms of use, the home page, one lookup per main sandbox scenario
through the gateway's lookup service, the attestation, and every bad input of issue 15 told
in French with the form keeping what was typed."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from sandbox.psc import PROFESSIONALS
from tests.portal_fixtures import Portal, accept_terms, csrf_of, log_in, portal  # noqa: F401


@pytest.fixture(scope="module")
def staff(portal: Portal):  # noqa: F811
    """A professional logged in through PSC who accepted the terms."""
    with portal.client() as client:
        log_in(portal, client)
        assert accept_terms(client).status_code == 303
        yield client


def _french(birth_date: str) -> str:
    year, month, day = birth_date.split("-")
    return f"{day}/{month}/{year}"


def _consult(client: httpx.Client, person: dict, regime: str | None = None, **changes: str):
    path = f"/consultation/{regime or person['regime']}"
    form = client.get(path)
    assert form.status_code == 200, form.text
    fields = {
        "csrf": csrf_of(form.text),
        "nir": person["nir"],
        "birth_date": _french(person["birth_date"]),
        "rang": str(person["rang"]),
        "date_of_care": _french(person["date_of_care"]),
        **changes,
    }
    return client.post(path, data=fields)


def _text(page: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", page.text))


def test_an_anonymous_visitor_is_sent_to_the_login_page(portal: Portal):  # noqa: F811
    with portal.client() as client:
        home = client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/connexion"
        login = _text(client.get("/connexion"))
        assert "S'identifier avec Pro Santé Connect" in login
        assert "Agent de carte non détecté" in login


def test_psc_login_asks_for_the_terms_once_then_shows_the_professional(portal: Portal):  # noqa: F811
    with portal.client() as client:
        back = log_in(portal, client, professional=2)
        assert back.status_code == 303 and back.headers["location"] == "/"
        assert client.get("/").headers["location"] == "/cgu"
        page = client.get("/cgu")
        refused = client.post("/cgu", data={"csrf": csrf_of(page.text), "version": "x"})
        assert refused.status_code == 400
        assert "cochez la case" in _text(refused)
        assert accept_terms(client).headers["location"] == "/"
        home = _text(client.get("/"))
    person = PROFESSIONALS[2]
    assert f"{person.given_name} {person.family_name}" in home
    assert "Pharmacien" in home and person.structure_name in home
    assert home.count('class="tuile ') == 18  # 17 regimes and "régime inconnu"
    assert 'href="/guides/mgen"' in home and 'href="/consultation/inconnu"' in home
    with portal.client() as again:
        log_in(portal, again, professional=2)
        assert again.get("/").status_code == 200  # accepted once for this version


def test_open_rights_show_every_block_and_the_attestation(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[0]
    page = _consult(staff, person)
    assert page.status_code == 200, page.text
    text = _text(page)
    assert "Droits ouverts à la date des soins" in text
    for block in (
        "Bénéficiaire",
        "Ouvrant droit",
        "Caisse – Centre – Régime",
        "Droits de base",
        "Complémentaire santé solidaire (C2S)",
        "Exonération du ticket modérateur (ETM)",
        "Médecin traitant",
        "Accidents du travail – maladies professionnelles",  # CNAM returns AT/MP
    ):
        assert block in text, block
    assert person["nir"] in text
    lookup_id = re.search(r"/consultations/([0-9a-f]+)/attestation\.pdf", page.text)
    assert lookup_id is not None
    again = staff.get(f"/consultations/{lookup_id.group(1)}")
    assert again.status_code == 200 and "Droits ouverts à la date des soins" in _text(again)
    assert f'href="/consultation/{person["regime"]}"' in again.text  # "Nouvelle consultation"
    pdf = staff.get(f"/consultations/{lookup_id.group(1)}/attestation.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]
    home = _text(staff.get("/"))
    assert person["nir"][:5] + "*" * 10 in home  # among my recent lookups, masked


def test_the_lookup_is_audited_with_the_professional(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[1]
    assert _consult(staff, person).status_code == 200
    bundle = httpx.get(f"{portal.url}/fhir/AuditEvent", params={"_count": "50"}).json()
    professional = PROFESSIONALS[0]
    agents = [
        agent
        for entry in bundle["entry"]
        for agent in entry["resource"]["agent"]
        if agent["who"].get("identifier", {}).get("value") == professional.rpps
    ]
    assert agents, "no AuditEvent names the professional"
    assert agents[0]["who"]["display"] == "Claire MARTIN"
    assert agents[0]["role"] == [{"text": "Médecin"}]
    assert "portal-lookup" in str(bundle)


def test_closed_rights_say_why(portal: Portal, staff):  # noqa: F811
    person = portal.people("closed")[0]
    text = _text(_consult(staff, person))
    assert "Droits fermés à la date des soins" in text


def test_c2s_is_shown_with_its_period(portal: Portal, staff):  # noqa: F811
    person = portal.people("c2s")[0]
    text = _text(_consult(staff, person))
    assert re.search(r"C2S [^<]*organisme (99999997|88888888)[^<]*(depuis|du) ", text)


def test_ame_is_shown(portal: Portal, staff):  # noqa: F811
    person = portal.people("ame")[0]
    text = _text(_consult(staff, person))
    assert "Aide médicale de l'État (AME)" in text and "75500017" in text


def test_an_unknown_person_keeps_the_form_and_lists_each_regime(portal: Portal, staff):  # noqa: F811
    person = portal.people("unknown")[0]
    page = _consult(staff, person, regime="inconnu")
    assert page.status_code == 200
    text = _text(page)
    assert "Personne inconnue" in text
    assert f'value="{person["nir"]}"' in page.text
    assert "Réponse de chaque régime" in text


def test_a_wrong_nir_key_names_the_expected_one_and_keeps_the_input(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[2]
    nir = person["nir"]
    wrong = nir[:13] + f"{(int(nir[13:]) + 1) % 97:02d}"
    page = _consult(staff, person, nir=wrong)
    assert page.status_code == 422
    text = _text(page)
    assert f"la clé attendue est {nir[13:]}" in text
    assert f'value="{wrong}"' in page.text


def test_impossible_dates_are_refused_in_french(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[2]
    page = _consult(staff, person, date_of_care="31/02/2026", birth_date="01/01/2999")
    assert page.status_code == 422
    text = _text(page)
    assert "Cette date des soins n'existe pas" in text
    assert "Cette date de naissance est impossible" in text
    assert 'value="31/02/2026"' in page.text and 'value="01/01/2999"' in page.text


def test_a_form_without_its_csrf_token_is_refused_and_kept(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[2]
    page = _consult(staff, person, csrf="forged")
    assert page.status_code == 400
    assert "Le formulaire a expiré ou ne vient pas de ce portail" in _text(page)
    assert f'value="{person["nir"]}"' in page.text


def test_a_regime_down_is_told_and_the_form_kept(portal: Portal, staff):  # noqa: F811
    person = next(p for p in portal.people("open") if p["regime"] == "mgen")
    faults = f"{portal.sandbox.url}/admin/faults/mgen"
    httpx.put(faults, json={"down": True}).raise_for_status()
    try:
        page = _consult(staff, person)
    finally:
        httpx.delete(f"{portal.sandbox.url}/admin/faults").raise_for_status()
    text = _text(page)
    assert "Régime indisponible" in text
    assert f'value="{person["nir"]}"' in page.text


def test_a_result_is_shown_only_to_whom_asked(portal: Portal, staff):  # noqa: F811
    person = portal.people("open")[3]
    page = _consult(staff, person)
    lookup_id = re.search(r"/consultations/([0-9a-f]+)/attestation\.pdf", page.text)
    assert lookup_id is not None
    with portal.client() as other:
        log_in(portal, other, professional=3)
        accept_terms(other)
        assert other.get(f"/consultations/{lookup_id.group(1)}").status_code == 404
        pdf = other.get(f"/consultations/{lookup_id.group(1)}/attestation.pdf")
        assert pdf.status_code == 404


def test_logout_ends_the_session(portal: Portal):  # noqa: F811
    with portal.client() as client:
        log_in(portal, client)
        page = client.get("/cgu")
        out = client.post("/deconnexion", data={"csrf": csrf_of(page.text)})
        assert out.headers["location"] == "/connexion?deconnecte=1"
        assert client.get("/").headers["location"] == "/connexion"


def test_the_session_cookie_is_httponly_and_samesite_lax(portal: Portal):  # noqa: F811
    with portal.client() as client:
        cookie = client.get("/connexion").headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_guides_assistance_and_the_api_beside_the_portal(portal: Portal):  # noqa: F811
    with portal.client() as client:
        guide = _text(client.get("/guides/msa"))
        assert "Guide utilisateur — MSA" in guide and "accidents déclarés" in guide
        assistance = _text(client.get("/assistance"))
        assert "du lundi au vendredi, de 8 h 30 à 17 h 30" in assistance
        assert client.get("/guides/nope").status_code == 404
        missing = client.get("/fhir/Nothing/1/2/3")
        assert missing.status_code == 404
        assert missing.json()["resourceType"] == "OperationOutcome"
        wrong_method = client.delete("/fhir/Patient/x")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["resourceType"] == "OperationOutcome"
        assert client.get("/fhir/metadata").json()["resourceType"] == "CapabilityStatement"


def test_another_worker_shows_the_result_and_its_attestation(portal: Portal, staff):  # noqa: F811
    """A second HTTP app on the same data directory, as a worker process of `cdr serve
    --workers N` is: the same session key, the same database, none of the first's memory."""
    from cdr.bootstrap import build_gateway, build_http_app
    from sandbox.server import start_in_thread
    from tests.portal_fixtures import portal_settings

    person = portal.people("c2s")[1]
    page = _consult(staff, person)
    lookup_id = re.search(r"/consultations/([0-9a-f]+)/attestation\.pdf", page.text)
    assert lookup_id is not None
    settings = portal_settings(portal.sandbox.url, portal.data_dir, portal.psc_url)
    other = start_in_thread(build_http_app(build_gateway(settings), tune_gc=False))
    try:
        with httpx.Client(base_url=other.url, cookies=staff.cookies, timeout=15) as worker:
            shown = worker.get(f"/consultations/{lookup_id.group(1)}")
            assert shown.status_code == 200, shown.text
            text = _text(shown)
            assert "Droits ouverts à la date des soins" in text
            assert re.search(r"C2S [^<]*organisme", text)
            pdf = worker.get(f"/consultations/{lookup_id.group(1)}/attestation.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    finally:
        other.stop()


def test_refusing_in_e_cps_says_so_and_opens_no_session(portal: Portal):  # noqa: F811
    with portal.client() as client:
        login = client.get("/connexion")
        start = client.post("/connexion/psc", data={"csrf": csrf_of(login.text)})
        approval = httpx.get(start.headers["location"])
        fields = {
            k: v.replace("&amp;", "&")
            for k, v in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', approval.text
            )
        }
        refused = httpx.post(
            f"{portal.psc_url}/auth/approve", data={**fields, "decision": "refuse"}
        )
        back = client.get(refused.headers["location"])
        assert back.status_code == 401
        assert "La connexion a été refusée dans l'application e-CPS." in _text(back)
        assert client.get("/").headers["location"] == "/connexion"
