"""The portal in a real browser: Debian's chromium, headless, driven by Playwright (no browser
is downloaded). Pro Santé Connect login against the sandbox's provider, the terms of use, a
lookup for each main sandbox scenario, the bad inputs, the attestation download; axe-core on
every page (no serious or critical violation) and screenshots at 1280 and 390 px wide, kept
in var/test-artifacts/portal (git-ignored).

Without chromium these tests are skipped, and fail under CDR_REQUIRE_BROWSER=1 (`make test`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.portal_fixtures import Portal, portal  # noqa: F401

CHROMIUM = Path(os.environ.get("CDR_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "portal"
WIDTHS = {"desktop": 1280, "mobile": 390}
_AXE = Axe()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found (apt-get install chromium): browser tests not run"
        if os.environ.get("CDR_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, portal: Portal) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(
        base_url=portal.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def check_accessibility(page: Page, name: str) -> None:
    """axe-core on the page as shown: no serious or critical violation; a screenshot per width."""
    results = _AXE.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def log_in(page: Page, professional: str = "MARTIN", *, check: bool = False) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/connexion$"))
    if check:
        check_accessibility(page, "connexion")
    page.get_by_role("button", name="S'identifier avec Pro Santé Connect").click()
    page.get_by_label(re.compile(professional)).check()
    page.get_by_role("button", name="Approuver la connexion").click()


def accept_terms(page: Page, *, check: bool = False) -> None:
    expect(page).to_have_url(re.compile(r"/cgu$"))
    if check:
        check_accessibility(page, "cgu")
    page.get_by_label(re.compile("J'ai lu et j'accepte")).check()
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", name="Consulter les droits d'un patient")).to_be_visible()


def french(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def fill(page: Page, person: dict, *, nir: str | None = None, date_of_care: str | None = None):
    page.get_by_label(re.compile("NIR du patient")).fill(nir or person["nir"])
    page.get_by_label(re.compile("Date de naissance")).fill(french(person["birth_date"]))
    page.get_by_label("Rang de naissance").select_option(str(person["rang"]))
    care = page.get_by_label(re.compile("Date des soins"))
    care.fill(date_of_care or french(person["date_of_care"]))
    page.get_by_role("button", name="Consulter les droits").click()


def consult(page: Page, person: dict, regime: str | None = None, **changes: str) -> None:
    page.goto(f"/consultation/{regime or person['regime']}")
    fill(page, person, **changes)


def test_psc_login_terms_home_and_a_lookup_with_its_attestation(page: Page, portal: Portal):  # noqa: F811
    log_in(page, check=True)
    accept_terms(page, check=True)
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text("Claire MARTIN")
    expect(banner).to_contain_text("Médecin")
    expect(page.locator(".tuile")).to_have_count(18)
    check_accessibility(page, "accueil")

    person = portal.people("open")[0]
    page.get_by_role("link", name=re.compile(r"^CNAM ")).first.click()
    nir = page.get_by_label(re.compile("NIR du patient"))
    nir.fill(person["nir"][:13])
    expect(page.locator("#nir-aide")).to_have_text(f"Clé attendue : {person['nir'][13:]}")
    check_accessibility(page, "formulaire")
    fill(page, person)
    expect(page.get_by_role("status")).to_contain_text("Droits ouverts à la date des soins")
    expect(page.get_by_role("heading", name="Médecin traitant")).to_be_visible()
    check_accessibility(page, "resultat")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Télécharger l'attestation")).click()
    saved = ARTIFACTS / "attestation.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    page.goto("/")
    expect(page.get_by_role("table")).to_contain_text(person["nir"][:5])


@pytest.mark.parametrize(
    ("scenario", "regime", "expected"),
    [
        ("open", None, "Droits ouverts à la date des soins"),
        ("closed", None, "Droits fermés à la date des soins"),
        ("c2s", None, re.compile(r"C2S [^\n]*organisme (99999997|88888888)")),
        ("ame", None, re.compile(r"AME \(organisme 75500017\)")),
        ("unknown", "inconnu", "Personne inconnue"),
    ],
)
def test_each_main_scenario(page: Page, portal: Portal, scenario, regime, expected):  # noqa: F811
    log_in(page, "DUBOIS")
    if page.url.endswith("/cgu"):
        accept_terms(page)
    person = portal.people(scenario)[-1]
    consult(page, person, regime)
    expect(page.locator("main")).to_contain_text(expected)
    if scenario == "unknown":
        expect(page.get_by_label(re.compile("NIR du patient"))).to_have_value(person["nir"])
        check_accessibility(page, "inconnu")


def test_bad_inputs_are_told_in_french_and_the_form_keeps_them(page: Page, portal: Portal):  # noqa: F811
    log_in(page, "LEROY")
    if page.url.endswith("/cgu"):
        accept_terms(page)
    person = portal.people("open")[4]
    page.goto(f"/consultation/{person['regime']}")
    page.get_by_label(re.compile("NIR du patient")).fill("1621375114123")  # month 13
    expect(page.locator("#nir-aide")).to_have_text(
        "Le mois de naissance (4e et 5e caractères) n'existe pas."
    )
    wrong = person["nir"][:13] + f"{(int(person['nir'][13:]) + 1) % 97:02d}"
    consult(page, person, nir=wrong, date_of_care="31/02/2026")
    main = page.locator("main")
    expect(main).to_contain_text(f"la clé attendue est {person['nir'][13:]}")
    expect(main).to_contain_text("Cette date des soins n'existe pas")
    expect(page.get_by_label(re.compile("NIR du patient"))).to_have_value(wrong)
    expect(page.get_by_label(re.compile("Date des soins"))).to_have_value("31/02/2026")
    check_accessibility(page, "erreurs")

    # A form whose CSRF token is not this session's.
    page.goto(f"/consultation/{person['regime']}")
    page.locator("main input[name=csrf]").evaluate("input => input.value = 'forged'")
    fill(page, person)
    expect(main).to_contain_text("Le formulaire a expiré ou ne vient pas de ce portail")
    expect(page.get_by_label(re.compile("NIR du patient"))).to_have_value(person["nir"])

    # A regime down.
    down = next(p for p in portal.people("open") if p["regime"] == "maee")
    httpx.put(f"{portal.sandbox.url}/admin/faults/maee", json={"down": True}).raise_for_status()
    try:
        consult(page, down)
    finally:
        httpx.delete(f"{portal.sandbox.url}/admin/faults").raise_for_status()
    expect(main).to_contain_text("Régime indisponible")
    expect(page.get_by_label(re.compile("NIR du patient"))).to_have_value(down["nir"])

    # The session gone (logged out elsewhere, cookie lost): back to the login page.
    page.goto(f"/consultation/{person['regime']}")
    page.context.clear_cookies()
    fill(page, person)
    expect(page).to_have_url(re.compile(r"/connexion$"))


def test_guides_assistance_and_terms_pages(page: Page, portal: Portal):  # noqa: F811
    log_in(page, "NGUYEN")
    if page.url.endswith("/cgu"):
        accept_terms(page)
    page.get_by_role("link", name="Guide MSA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Guide utilisateur — MSA")
    check_accessibility(page, "guide")
    page.get_by_role("navigation").get_by_role("link", name="Assistance").click()
    expect(page.locator("main")).to_contain_text("du lundi au vendredi, de 8 h 30 à 17 h 30")
    check_accessibility(page, "assistance")
    page.get_by_role("navigation").get_by_role("link", name="Conditions d'utilisation").click()
    expect(page.locator("main")).to_contain_text("Vous avez accepté cette version")
    check_accessibility(page, "cgu-acceptees")
    page.goto("/nulle-part")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
    check_accessibility(page, "introuvable")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.locator("main")).to_contain_text("Vous êtes déconnecté")
