"""The desk's card agent (card.agent) over the in-memory emulated card: only the portal's
origin and loopback are answered, the PIN unlocks a session in which the challenge is signed
with the authentication key and assertions with the signature key, each refusal a code and a
French message, and a card taken out ends the session."""

from __future__ import annotations

import datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.agent import CardAgent, b64url, create_agent_app, from_b64url
from card.emulator import EmulatedCpx, emulated_card_from_pki
from card.errors import NoCard
from card.pki import init_pki
from tests.unit.cdr.test_card_commands import FakeCard, FakeReader

ORIGIN = "https://portail.chu.test"
PORT = 8765
NOW = datetime.datetime.now(datetime.UTC)


class RemovableReader(FakeReader):
    """A reader whose card can be taken out (``present = False``)."""

    present = True

    def wait_for_insertion(self, timeout_s: float) -> str:
        if not self.present:
            raise NoCard("no card in the reader")
        return super().wait_for_insertion(timeout_s)

    def open(self, reader: str | None = None) -> FakeCard:
        if not self.present:
            raise NoCard("no card in the reader")
        return super().open(reader)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, structure_finess="750100018", structure_name="Test")
    return directory


@pytest.fixture
def card(pki_dir: Path) -> EmulatedCpx:
    made = emulated_card_from_pki(pki_dir, "medecin", pin="1234")
    made.power_on()
    return made


def _client(reader: FakeReader, *, origin: str | None = ORIGIN, host: str = f"127.0.0.1:{PORT}"):
    app = create_agent_app(CardAgent(reader, lambda: NOW), origin=ORIGIN, port=PORT)  # type: ignore[arg-type]
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://127.0.0.1:{PORT}", headers=headers
    )


def _public_key(der_b64: str) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(from_b64url(der_b64)).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.mark.parametrize(
    ("origin", "host", "code"),
    [
        ("https://evil.test", f"127.0.0.1:{PORT}", "forbidden-origin"),
        (None, f"127.0.0.1:{PORT}", "forbidden-origin"),  # curl, or a page of no origin
        (ORIGIN, "attacker.test:8765", "forbidden-host"),  # DNS rebinding
    ],
)
async def test_only_the_portal_on_loopback_is_answered(
    card: EmulatedCpx, origin: str | None, host: str, code: str
) -> None:
    async with _client(FakeReader(card), origin=origin, host=host) as client:
        response = await client.get("/card")
    assert response.status_code == 403 and response.json()["code"] == code
    assert "access-control-allow-origin" not in response.headers


async def test_the_browser_s_preflight_is_answered_private_network_included(
    card: EmulatedCpx,
) -> None:
    async with _client(FakeReader(card)) as client:
        response = await client.options(
            "/login",
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Private-Network": "true",
            },
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-private-network"] == "true"


async def test_login_then_sign_with_the_two_keys(card: EmulatedCpx) -> None:
    async with _client(FakeReader(card)) as client:
        status = (await client.get("/card")).json()
        assert status["present"] and status["pin_tries_left"] == 3 and not status["session"]
        assert status["holder"]["surname"] == "MEDECIN-TEST"
        refused = await client.post("/sign", json={"data": b64url(b"x")})
        assert refused.status_code == 401 and refused.json()["code"] == "no-session"
        challenge = b"portal challenge 42"
        login = await client.post("/login", json={"challenge": b64url(challenge), "pin": "1234"})
        assert login.status_code == 200, login.text
        body = login.json()
        assert login.headers["access-control-allow-origin"] == ORIGIN
        _public_key(body["certificate"]).verify(
            from_b64url(body["signature"]), challenge, padding.PKCS1v15(), hashes.SHA256()
        )
        assert body["holder"]["national_id"] == "810100234567"
        signed = await client.post("/sign", json={"data": b64url(b"header.claims")})
        assert signed.status_code == 200
        _public_key(body["signature_certificate"]).verify(
            from_b64url(signed.json()["signature"]),
            b"header.claims",
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        assert (await client.get("/card")).json()["session"] is True
        await client.post("/logout")
        assert (await client.post("/sign", json={"data": "eA"})).json()["code"] == "no-session"


async def test_wrong_pins_count_down_in_french(card: EmulatedCpx) -> None:
    async with _client(FakeReader(card)) as client:
        wrong = await client.post("/login", json={"challenge": "eA", "pin": "0000"})
        assert wrong.status_code == 401
        assert wrong.json() == {
            "code": "wrong-pin",
            "message": "Code PIN erroné : 2 essais restants avant le blocage de la carte.",
            "tries_left": 2,
        }
        malformed = await client.post("/login", json={"challenge": "eA", "pin": "12ab"})
        assert malformed.status_code == 400 and malformed.json()["code"] == "bad-pin"
        unreadable = await client.post("/login", content=b"{")
        assert unreadable.status_code == 400
        await client.post("/login", json={"challenge": "eA", "pin": "0000"})
        await client.post("/login", json={"challenge": "eA", "pin": "0000"})
        blocked = await client.post("/login", json={"challenge": "eA", "pin": "1234"})
        assert blocked.status_code == 423 and blocked.json()["code"] == "pin-blocked"


async def test_a_card_taken_out_ends_the_session(card: EmulatedCpx) -> None:
    reader = RemovableReader(card)
    agent = CardAgent(reader, lambda: NOW)  # type: ignore[arg-type]
    agent.login(b"c", "1234")
    assert agent.in_session and agent.present()
    reader.present = False
    card.power_on()
    assert not agent.present() and not agent.in_session
    async with _client(reader) as client:
        status = await client.get("/card")
        assert status.status_code == 200
        assert status.json()["present"] is False and status.json()["code"] == "no-card"
        login = await client.post("/login", json={"challenge": "eA", "pin": "1234"})
        assert login.status_code == 409 and "insérez votre carte" in login.json()["message"]
