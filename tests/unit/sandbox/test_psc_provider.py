"""The sandbox's Pro Santé Connect look-alike: the code flow with PKCE as a client meets it,
tokens signed with its RSA key and verified here against its JWKS, and its refusals."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sandbox.psc import PROFESSIONALS, PscClient, create_psc_app

REDIRECT = "http://127.0.0.1:8080/connexion/psc/retour"
VERIFIER = "a-code-verifier-of-at-least-forty-three-characters-0123456789"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
async def client():
    app = create_psc_app(
        {"portal": PscClient("portal", "s3cret", (REDIRECT,), loopback_redirects=True)}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8090") as c:
        yield c


async def _authorize(client, **overrides):
    params = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid scope_all",
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": _challenge(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return await client.get("/auth", params=params, follow_redirects=False), params


async def _code(client, professional=0, **overrides):
    page, params = await _authorize(client, **overrides)
    assert page.status_code == 200
    approved = await client.post(
        "/auth/approve",
        data={
            **params,
            "professional": PROFESSIONALS[professional].national_id,
            "decision": "approve",
        },
        follow_redirects=False,
    )
    assert approved.status_code == 303
    query = parse_qs(urlsplit(approved.headers["location"]).query)
    assert query["state"] == ["st4te"]
    return query["code"][0], approved.headers["location"]


async def _token(client, code, verifier=VERIFIER, secret="s3cret", redirect=REDIRECT):
    return await client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
        },
        auth=("portal", secret),
    )


async def test_discovery_names_the_endpoints_under_the_issuer(client):
    doc = (await client.get("/.well-known/openid-configuration")).json()
    assert doc["issuer"] == "http://127.0.0.1:8090"
    assert doc["token_endpoint"] == "http://127.0.0.1:8090/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "SubjectNameID" in doc["claims_supported"]


async def test_the_approval_page_lists_the_professionals_in_french(client):
    page, _ = await _authorize(client)
    assert '<html lang="fr">' in page.text
    for person in PROFESSIONALS:
        assert person.national_id in page.text
    assert len(re.findall(r'type="radio"', page.text)) == len(PROFESSIONALS)


async def test_a_code_and_its_verifier_give_an_id_token_signed_by_the_published_key(client):
    code, _ = await _code(client)
    answer = await _token(client, code)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    keys = jwt.PyJWKSet.from_dict((await client.get("/jwks")).json())
    header = jwt.get_unverified_header(body["id_token"])
    claims = jwt.decode(
        body["id_token"],
        keys[header["kid"]].key,
        algorithms=["RS256"],
        audience="portal",
        issuer="http://127.0.0.1:8090",
    )
    assert claims["sub"] == "8" + PROFESSIONALS[0].rpps
    assert claims["nonce"] == "n0nce"


async def test_userinfo_carries_the_psc_claims(client):
    code, _ = await _code(client, professional=1)
    token = (await _token(client, code)).json()["access_token"]
    info = (await client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})).json()
    person = PROFESSIONALS[1]
    assert info["SubjectNameID"] == "8" + person.rpps
    exercice = info["SubjectRefPro"]["exercices"][0]
    assert exercice["codeProfession"] == person.profession_code
    assert exercice["activities"][0]["numeroFinessSite"] == person.structure_finess
    assert info["SubjectOrganization"] == person.structure_name
    assert info["SubjectRole"] == ["10^1.2.250.1.71.1.2.7"]


async def test_userinfo_without_a_valid_token_is_refused(client):
    assert (await client.get("/userinfo")).status_code == 401
    refused = await client.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401


async def test_a_code_is_used_once(client):
    code, _ = await _code(client)
    assert (await _token(client, code)).status_code == 200
    again = await _token(client, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_a_wrong_verifier_is_refused(client):
    code, _ = await _code(client)
    answer = await _token(client, code, verifier="x" * 50)
    assert answer.status_code == 400
    assert "PKCE" in answer.json()["error_description"]


async def test_a_wrong_client_secret_is_refused(client):
    code, _ = await _code(client)
    assert (await _token(client, code, secret="guess")).status_code == 401


async def test_pkce_is_required(client):
    page, _ = await _authorize(client, code_challenge="")
    assert page.status_code == 303
    assert "error=invalid_request" in page.headers["location"]


async def test_an_unregistered_redirect_is_never_followed(client):
    page, _ = await _authorize(client, redirect_uri="https://evil.example/cb")
    assert page.status_code == 400
    assert "location" not in page.headers


async def test_a_loopback_redirect_on_another_port_is_accepted(client):
    other = "http://127.0.0.1:43210/connexion/psc/retour"
    code, location = await _code(client, redirect_uri=other)
    assert location.startswith(other)
    assert (await _token(client, code, redirect=other)).status_code == 200


async def test_refusing_sends_access_denied_back(client):
    _, params = await _authorize(client)
    refused = await client.post(
        "/auth/approve", data={**params, "decision": "refuse"}, follow_redirects=False
    )
    assert "error=access_denied" in refused.headers["location"]
    assert "state=st4te" in refused.headers["location"]
