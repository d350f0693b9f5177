"""The portal's CPx card login over real sockets, the desk's agent played in-process by
``card.agent.CardAgent`` over the emulated card (no PC/SC here; the real pcscd is in the card
tests): a challenge per session, the agent's answer posted back and checked (signature, chain,
CRLs), the session opened for the card holder; a replayed answer, a challenge of another
session and a card of another PKI are refused in French."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from card.agent import CardAgent, from_b64url
from card.emulator import emulated_card_from_pki
from card.pki import PkiFiles, init_pki
from cdr.bootstrap import build_gateway, build_http_app, build_psc_provider
from sandbox.server import RunningServer, start_in_thread
from tests.portal_fixtures import accept_terms, csrf_of, portal_settings
from tests.unit.cdr.test_card_commands import FakeReader

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"), structure_finess="750100018", structure_name="CH"
    )


@pytest.fixture(scope="module")
def portal_url(
    sandbox: RunningServer, pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("portal-card")
    psc = start_in_thread(build_psc_provider(portal_settings(sandbox.url, data_dir, "http://x")))
    settings = portal_settings(sandbox.url, data_dir, psc.url).model_copy(
        update={
            "portal_card_ca_file": pki.path("ca.chain"),
            "portal_card_crl_files": [pki.path("crl.persons")],
        }
    )
    server = start_in_thread(build_http_app(build_gateway(settings), tune_gc=False))
    yield server.url
    server.stop()
    psc.stop()


def _agent(pki_dir: Path, profile: str = "medecin") -> CardAgent:
    card = emulated_card_from_pki(pki_dir, profile, pin="1234")
    card.power_on()
    return CardAgent(FakeReader(card), lambda: NOW)  # type: ignore[arg-type]


def _card_login(client: httpx.Client, agent: CardAgent) -> tuple[httpx.Response, dict]:
    page = client.get("/connexion")
    challenge = client.get("/connexion/carte/defi").json()["challenge"]
    answer = agent.login(from_b64url(challenge), "1234")
    posted = client.post(
        "/connexion/carte", content=json.dumps({"csrf": csrf_of(page.text), "answer": answer})
    )
    return posted, answer


def test_the_card_holder_logs_in_and_the_page_watches_the_card(portal_url: str, pki: PkiFiles):
    with httpx.Client(base_url=portal_url, timeout=15) as client:
        page = client.get("/connexion")
        assert 'id="carte" data-agent="http://127.0.0.1:8765"' in page.text
        assert "http://127.0.0.1:8765" in page.headers["content-security-policy"]
        posted, answer = _card_login(client, _agent(pki.directory))
        assert posted.status_code == 200 and posted.json() == {"redirect": "/"}, posted.text
        assert accept_terms(client).status_code == 303
        home = client.get("/")
        assert home.status_code == 200
        text = re.sub(r"\s+", " ", home.text)
        assert "CLAIRE MEDECIN-TEST" in text and "Médecin" in text
        # A card session's pages listen to the agent: the card taken out ends the session.
        assert 'data-agent="http://127.0.0.1:8765"' in home.text
        assert "/static/card-session.js" in home.text
        # The answer cannot be posted again: its challenge was used.
        again = client.post(
            "/connexion/carte", content=json.dumps({"csrf": csrf_of(home.text), "answer": answer})
        )
        assert again.status_code == 400 and "expiré" in again.json()["message"]


def test_a_challenge_of_another_session_or_another_pki_is_refused(
    portal_url: str, pki: PkiFiles, tmp_path: Path
) -> None:
    with httpx.Client(base_url=portal_url) as first, httpx.Client(base_url=portal_url) as second:
        page = second.get("/connexion")
        challenge = first.get("/connexion/carte/defi").json()["challenge"]
        second.get("/connexion/carte/defi")  # the second session has a challenge of its own
        answer = _agent(pki.directory).login(from_b64url(challenge), "1234")
        stolen = second.post(
            "/connexion/carte", content=json.dumps({"csrf": csrf_of(page.text), "answer": answer})
        )
        assert stolen.status_code == 401
        assert "signature de la carte ne correspond pas" in stolen.json()["message"]
    foreign = init_pki(tmp_path / "foreign", structure_finess="750100018", structure_name="X")
    with httpx.Client(base_url=portal_url) as client:
        refused, _ = _card_login(client, _agent(foreign.directory))
        assert refused.status_code == 401
        assert "autorité reconnue" in refused.json()["message"]
        assert client.get("/").status_code == 303  # no session was opened
    with httpx.Client(base_url=portal_url) as client:
        page = client.get("/connexion")
        client.get("/connexion/carte/defi")
        forged = client.post("/connexion/carte", content=json.dumps({"csrf": "x", "answer": {}}))
        assert forged.status_code == 403
