"""The card at the desk, every part real: Debian's chromium (Playwright) on the portal, `cdr card
agent` on loopback, the real pcscd with vsmartcard's reader and the emulated card, and the
regimes over mutual TLS checking every assertion (as `make run` runs them). The page finds the
agent and the card, a wrong PIN is told with the tries left, the right one opens the session
for the card holder; a consultation is signed by the card and answered; taking the card out
ends the session. axe-core on the login page with the card found: no serious or critical
violation."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from card.pki import PkiFiles
from cdr.bootstrap import build_gateway, build_http_app, build_psc_provider
from sandbox.server import start_in_thread
from tests.e2e.test_portal_browser import CHROMIUM, check_accessibility
from tests.e2e.test_scenarios import POPULATION
from tests.integration.card.conftest import DEMO_PIN, EmulatedCardProcess, wait_until
from tests.integration.card.test_attended_lookup import _secured_sandbox, demo_pki  # noqa: F401
from tests.portal_fixtures import portal_settings

Start = Callable[..., EmulatedCardProcess]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def desk(
    demo_pki: PkiFiles,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """The portal (card login on, the agent at its port, the regimes secured) and `cdr card
    agent` for its origin."""
    agent_port = _free_port()
    data_dir = tmp_path_factory.mktemp("portal-desk")
    sandbox = _secured_sandbox(demo_pki, tmp_path_factory.mktemp("sandbox"))
    psc = start_in_thread(build_psc_provider(portal_settings(sandbox.url, data_dir, "http://x")))
    settings = portal_settings(sandbox.url, data_dir, psc.url).model_copy(
        update={
            "requester_finess": "750100018",
            "regimes_ca_file": demo_pki.path("ca.chain"),
            "regimes_client_cert_file": demo_pki.path("structure.auth.cert"),
            "regimes_client_key_file": demo_pki.path("structure.auth.key"),
            "structure_sign_cert_file": demo_pki.path("structure.sign.cert"),
            "structure_sign_key_file": demo_pki.path("structure.sign.key"),
            "portal_card_ca_file": demo_pki.path("ca.chain"),
            "portal_card_crl_files": [demo_pki.path("crl.persons")],
            "portal_card_agent_url": f"http://127.0.0.1:{agent_port}",
        }
    )
    server = start_in_thread(build_http_app(build_gateway(settings), tune_gc=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    command = [sys.executable, "-m", "cdr.cli", "card", "agent", "--port", str(agent_port)]
    agent = subprocess.Popen(
        [*command, "--origin", server.url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _answers(agent_port, server.url), 20, "the card agent answering")
        yield server.url, f"http://127.0.0.1:{agent_port}"
    finally:
        agent.terminate()
        agent.wait(10)
        server.stop()
        psc.stop()
        sandbox.stop()


def _answers(port: int, origin: str) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/card", headers={"Origin": origin}, timeout=2)
        return True
    except httpx.TransportError:
        return False


@pytest.fixture
def page(desk: tuple[str, str]) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        context = browser.new_context(base_url=desk[0], locale="fr-FR")
        opened = context.new_page()
        opened.set_default_timeout(20_000)
        yield opened
        browser.close()


def test_the_card_logs_in_and_taking_it_out_logs_out(
    emulated_card: Start,
    demo_pki: PkiFiles,  # noqa: F811
    page: Page,
) -> None:
    card = emulated_card("medecin", demo_pki.directory)
    page.goto("/connexion")
    state = page.locator("#carte-etat")
    expect(state).to_contain_text("Carte CPS de CLAIRE MEDECIN-TEST (Médecin)")
    expect(state).to_contain_text("3 essais de code PIN restants")
    check_accessibility(page, "connexion-carte")
    page.get_by_label("Code PIN de la carte").fill("0000")
    page.get_by_role("button", name="Se connecter avec la carte").click()
    expect(page.locator("#carte-erreur")).to_contain_text(
        "Code PIN erroné : 2 essais restants avant le blocage de la carte."
    )
    page.get_by_label("Code PIN de la carte").fill(DEMO_PIN)
    page.get_by_role("button", name="Se connecter avec la carte").click()
    expect(page).to_have_url(re.compile(r"/cgu$"))
    page.get_by_label(re.compile("J'ai lu et j'accepte")).check()
    page.get_by_role("button", name="Valider").click()
    expect(page.locator("header")).to_contain_text("CLAIRE MEDECIN-TEST")
    # A consultation, signed by the card before it goes (attended mode), answered.
    person = next(m for m in POPULATION.members if "open" in m.scenarios)
    page.goto(f"/consultation/{person.regime}")
    page.get_by_label(re.compile("NIR du patient")).fill(person.nir)
    year, month, day = person.birth_date.split("-")
    page.get_by_label(re.compile("Date de naissance")).fill(f"{day}/{month}/{year}")
    care = person.date_of_care
    page.get_by_label(re.compile("Date des soins")).fill(
        f"{care.day:02d}/{care.month:02d}/{care.year}"
    )
    page.get_by_role("button", name="Consulter les droits").click()
    expect(page.locator("main")).to_contain_text("Droits ouverts à la date des soins")
    card.remove()
    expect(page).to_have_url(re.compile(r"/connexion\?carte-retiree=1$"))
    expect(page.locator(".alerte")).to_contain_text("La carte a été retirée du lecteur")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion$"))  # the session is closed


def test_without_the_agent_the_page_says_so(page: Page) -> None:
    page.route(re.compile(r"http://127\.0\.0\.1:\d+/card"), lambda route: route.abort())
    page.goto("/connexion")
    expect(page.locator("#carte-etat")).to_contain_text("Agent de carte non détecté sur ce poste")
    expect(page.locator("#carte-form")).to_be_hidden()
