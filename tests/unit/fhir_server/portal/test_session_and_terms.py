"""The portal's guard with small fakes in place of the gateway: an idle session ends with a
French message, a new version of the terms asks again, a failed lookup keeps the form. The
session cookie is made as Starlette's SessionMiddleware makes it (itsdangerous-signed JSON)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import httpx
import pytest
from itsdangerous import TimestampSigner

from fhir_server.portal import (
    SESSION_COOKIE,
    PortalConfig,
    PortalContext,
    PscConfig,
    SupportContact,
    create_portal,
    load_terms,
)
from fhir_server.portal.professional import professional_from_userinfo
from rights.catalogue import default_catalogue
from rights.errors import StorageError
from sandbox.psc import PROFESSIONALS

SECRET = "a-session-secret-for-the-unit-tests-only"
IDLE = 900
USER = professional_from_userinfo(PROFESSIONALS[0].userinfo())
TERMS_V2 = """
version = "v2"
title = "CGU"
[[section]]
heading = "1"
text = "Nouvelle version."
"""


class Acceptances:
    def __init__(self, *accepted: tuple[str, str]) -> None:
        self.accepted = set(accepted)

    def has_accepted(self, user_id: str, version: str) -> bool:
        return (user_id, version) in self.accepted

    def accept(self, user_id: str, version: str, at: datetime) -> None:
        self.accepted.add((user_id, version))


class NoRecent:
    def recent(self, rpps: str, limit: int) -> list:
        return []


async def _direct(fn, *args):
    return fn(*args)


async def _failing_lookup(query, caller):
    raise StorageError("cannot store lookup: disk full")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _portal(acceptances: Acceptances, clock: Clock, *, https_only: bool = False, card=None):
    context = PortalContext(
        config=PortalConfig(
            session_secret=SECRET,
            idle_timeout_s=IDLE,
            https_only=https_only,
            structure_finess="750100018",
            psc=PscConfig("http://127.0.0.1:1/psc", "portal", "secret"),
            support=SupportContact("01 02 03 04 05", "aide@example.org", "tous les jours"),
        ),
        catalogue=default_catalogue(),
        run_lookup=_failing_lookup,
        acceptances=acceptances,
        recent=NoRecent(),
        terms=load_terms(TERMS_V2),
        now=lambda: datetime(2026, 12, 8, 10, tzinfo=UTC),
        today=lambda: date(2026, 12, 8),
        blocking=_direct,
        clock=clock,
    )
    return create_portal(context, card=card)


def _cookie(**session) -> str:
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(SECRET).sign(data).decode()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _client(app, clock: Clock, **extra) -> httpx.AsyncClient:
    session = {"user": USER.to_session(), "seen": int(clock.now), "csrf": "tok", **extra}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8080",
        cookies={SESSION_COOKIE: _cookie(**session)},
    )


async def test_an_idle_session_ends_with_a_french_message(clock):
    app = _portal(Acceptances((USER.national_id, "v2")), clock)
    async with _client(app, clock) as client:
        assert (await client.get("/")).status_code == 200
        clock.now += IDLE + 1
        home = await client.get("/")
        assert home.headers["location"] == "/connexion?expiree=1"
        login = await client.get(home.headers["location"])
        assert "Votre session a expiré" in login.text


async def test_activity_keeps_the_session_alive(clock):
    app = _portal(Acceptances((USER.national_id, "v2")), clock)
    async with _client(app, clock) as client:
        for _ in range(3):
            clock.now += IDLE - 10
            assert (await client.get("/")).status_code == 200


async def test_a_new_version_of_the_terms_asks_again(clock):
    acceptances = Acceptances((USER.national_id, "v1"))
    app = _portal(acceptances, clock)
    async with _client(app, clock, terms="v1") as client:
        home = await client.get("/")
        assert home.headers["location"] == "/cgu"
        page = await client.get("/cgu")
        assert "version v2" in page.text and 'name="accept"' in page.text
        accepted = await client.post("/cgu", data={"csrf": "tok", "version": "v2", "accept": "oui"})
        assert accepted.headers["location"] == "/"
        assert (USER.national_id, "v2") in acceptances.accepted
        assert (await client.get("/")).status_code == 200


async def test_terms_posted_without_the_csrf_token_are_not_accepted(clock):
    acceptances = Acceptances()
    app = _portal(acceptances, clock)
    async with _client(app, clock) as client:
        refused = await client.post("/cgu", data={"version": "v2", "accept": "oui"})
    assert refused.status_code == 400
    assert "Le formulaire a expiré" in refused.text
    assert not acceptances.accepted


async def test_a_lookup_that_cannot_be_stored_keeps_the_form(clock):
    app = _portal(Acceptances((USER.national_id, "v2")), clock)
    async with _client(app, clock) as client:
        page = await client.post(
            "/consultation/cnam",
            data={"csrf": "tok", "nir": "162047511412341", "rang": "1", "date_of_care": ""},
        )
    assert page.status_code == 503
    assert "La consultation n&#39;a pas pu être enregistrée" in page.text
    assert 'value="162047511412341"' in page.text
    assert "Traceback" not in page.text


async def test_an_unknown_regime_page_is_a_french_404(clock):
    app = _portal(Acceptances((USER.national_id, "v2")), clock)
    async with _client(app, clock) as client:
        page = await client.get("/consultation/nope")
    assert page.status_code == 404 and "Page introuvable" in page.text


async def test_pages_forbid_framing_and_foreign_scripts(clock):
    app = _portal(Acceptances(), clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
    ) as client:
        page = await client.get("/connexion")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "form-action 'self' http://127.0.0.1:1" in policy  # the PSC provider's origin
    assert page.headers["x-content-type-options"] == "nosniff"


async def test_the_cookie_is_secure_when_served_over_https(clock):
    app = _portal(Acceptances(), clock, https_only=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://gateway.example"
    ) as client:
        cookie = (await client.get("/connexion")).headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def _anonymous(app, **session) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8080",
        cookies={SESSION_COOKIE: _cookie(**session)} if session else None,
    )


async def test_psc_out_of_reach_is_told_on_the_login_page(clock):
    app = _portal(Acceptances(), clock)  # its PSC issuer is a closed port
    async with _anonymous(app, csrf="tok") as client:
        page = await client.post("/connexion/psc", data={"csrf": "tok"})
    assert page.status_code == 502
    assert "La connexion par Pro Santé Connect n&#39;a pas abouti" in page.text


async def test_a_login_started_elsewhere_is_refused(clock):
    """A callback whose state this browser never made (login CSRF) opens no session."""
    app = _portal(Acceptances(), clock)
    async with _anonymous(app) as client:
        page = await client.get("/connexion/psc/retour", params={"code": "c", "state": "s"})
        assert page.status_code == 401
        assert "Pro Santé Connect" in page.text
        assert (await client.get("/")).headers["location"] == "/connexion"


async def test_starting_a_login_needs_the_csrf_token(clock):
    app = _portal(Acceptances(), clock)
    async with _anonymous(app, csrf="tok") as client:
        page = await client.post("/connexion/psc", data={"csrf": "other"})
    assert page.status_code == 400
    assert "Le formulaire a expiré" in page.text


class AgentAtTheDesk:
    """A CardLogin naming its agent (the check of its answers is tested with the real one in
    tests/integration/portal/test_portal_card_login.py)."""

    def agent_url(self) -> str | None:
        return "http://127.0.0.1:8765"

    async def professional(self, challenge, answer):
        raise NotImplementedError


async def test_a_card_login_names_its_agent_to_the_page_and_the_policy(clock):
    app = _portal(Acceptances(), clock, card=AgentAtTheDesk())
    async with _anonymous(app) as client:
        page = await client.get("/connexion")
    assert 'data-agent="http://127.0.0.1:8765"' in page.text  # the page's script asks it
    assert "/static/card.js" in page.text
    assert "connect-src 'self' http://127.0.0.1:8765" in page.headers["content-security-policy"]


async def test_without_a_card_login_the_page_says_no_agent(clock):
    app = _portal(Acceptances(), clock)
    async with _anonymous(app) as client:
        page = await client.get("/connexion")
    assert "Agent de carte non détecté sur ce poste." in page.text
    assert "connect-src 'self';" in page.headers["content-security-policy"]
