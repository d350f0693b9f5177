"""Attended mode at the portal over real sockets: the gateway's regime calls are mutual TLS to
a sandbox that checks every assertion (as the secured demo runs it); a card session's
consultation is signed by the card (the desk's agent played in-process over the emulated card)
and answered, the sandbox having accepted the card holder as the actor; a consultation without
that signature, or with one used before, is refused in French and asks no regime."""

from __future__ import annotations

import datetime
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from card.agent import CardAgent, b64url, from_b64url
from card.emulator import emulated_card_from_pki
from card.pki import PkiFiles, init_pki
from cdr.bootstrap import build_gateway, build_http_app, build_psc_provider
from sandbox.server import RunningServer, start_in_thread
from tests.e2e.test_scenarios import POPULATION
from tests.integration.card.test_attended_lookup import _secured_sandbox
from tests.portal_fixtures import accept_terms, csrf_of, portal_settings
from tests.unit.cdr.test_card_commands import FakeReader

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"), structure_finess="750100018", structure_name="CH"
    )


@pytest.fixture(scope="module")
def portal_url(pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sandbox: RunningServer = _secured_sandbox(pki, tmp_path_factory.mktemp("sandbox"))
    data_dir = tmp_path_factory.mktemp("portal-attended")
    psc = start_in_thread(build_psc_provider(portal_settings(sandbox.url, data_dir, "http://x")))
    settings = portal_settings(sandbox.url, data_dir, psc.url).model_copy(
        update={
            "requester_finess": "750100018",
            "regimes_ca_file": pki.path("ca.chain"),
            "regimes_client_cert_file": pki.path("structure.auth.cert"),
            "regimes_client_key_file": pki.path("structure.auth.key"),
            "structure_sign_cert_file": pki.path("structure.sign.cert"),
            "structure_sign_key_file": pki.path("structure.sign.key"),
            "portal_card_ca_file": pki.path("ca.chain"),
            "portal_card_crl_files": [pki.path("crl.persons")],
            "regime_retries": 0,
        }
    )
    server = start_in_thread(build_http_app(build_gateway(settings), tune_gc=False))
    yield server.url
    server.stop()
    psc.stop()
    sandbox.stop()


def _agent(pki_dir: Path) -> CardAgent:
    card = emulated_card_from_pki(pki_dir, "medecin", pin="1234")
    card.power_on()
    return CardAgent(FakeReader(card), lambda: NOW)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def desk(portal_url: str, pki: PkiFiles) -> Iterator[tuple[httpx.Client, CardAgent]]:
    agent = _agent(pki.directory)
    with httpx.Client(base_url=portal_url, timeout=30) as client:
        page = client.get("/connexion")
        challenge = client.get("/connexion/carte/defi").json()["challenge"]
        answer = agent.login(from_b64url(challenge), "1234")
        body = json.dumps({"csrf": csrf_of(page.text), "answer": answer})
        assert client.post("/connexion/carte", content=body).status_code == 200
        assert accept_terms(client).status_code == 303
        yield client, agent


def _fields(page: str, person: Any) -> dict[str, str]:
    year, month, day = person.birth_date.split("-")
    care = person.date_of_care
    return {
        "csrf": csrf_of(page),
        "nir": person.nir,
        "birth_date": f"{day}/{month}/{year}",
        "rang": str(person.rang),
        "date_of_care": f"{care.day:02d}/{care.month:02d}/{care.year}",
    }


def _signed(client: httpx.Client, agent: CardAgent, csrf: str) -> dict[str, str]:
    certificate = agent.status()["signature_certificate"]
    issued = client.post(
        "/consultation/assertion", content=json.dumps({"csrf": csrf, "certificate": certificate})
    )
    assert issued.status_code == 200, issued.text
    signing_input = issued.json()["signing_input"]
    signature = agent.sign(signing_input.encode("ascii"))
    return {"assertion_input": signing_input, "assertion_signature": b64url(signature)}


def test_a_card_session_s_consultation_is_signed_by_the_card(desk) -> None:
    client, agent = desk
    person = next(m for m in POPULATION.members if "open" in m.scenarios)
    path = f"/consultation/{person.regime}"
    form = client.get(path)
    assert 'id="consultation-signee"' in form.text and "/static/attended.js" in form.text
    fields = _fields(form.text, person)
    signed = {**fields, **_signed(client, agent, fields["csrf"])}
    answered = client.post(path, data=signed)
    assert answered.status_code == 200, answered.text
    assert "Droits ouverts à la date des soins" in re.sub(r"\s+", " ", answered.text)
    # The same signature again: refused, nothing asked.
    again = client.post(path, data={**signed, "csrf": csrf_of(answered.text)})
    assert again.status_code == 401
    assert "Consultation non envoyée" in again.text


def test_without_the_card_s_signature_nothing_is_asked(desk) -> None:
    client, _agent = desk
    person = next(m for m in POPULATION.members if "closed" in m.scenarios)
    path = f"/consultation/{person.regime}"
    form = client.get(path)
    unsigned = client.post(path, data=_fields(form.text, person))
    assert unsigned.status_code == 401
    assert "n'a pas été signée par votre carte" in html.unescape(unsigned.text)
    assert person.nir in unsigned.text  # the form keeps what was typed


def test_another_card_cannot_sign_for_the_session(desk, tmp_path: Path) -> None:
    client, _agent = desk
    home = client.get("/")
    other = init_pki(tmp_path / "other", structure_finess="750100018", structure_name="X")
    nurse = emulated_card_from_pki(other.directory, "infirmier", pin="1234")
    nurse.power_on()
    stranger = CardAgent(FakeReader(nurse), lambda: NOW)  # type: ignore[arg-type]
    stranger.login(b"x", "1234")
    refused = client.post(
        "/consultation/assertion",
        content=json.dumps(
            {
                "csrf": csrf_of(home.text),
                "certificate": stranger.status()["signature_certificate"],
            }
        ),
    )
    assert refused.status_code == 403
    assert "n'est pas celle de la session" in refused.json()["message"]
