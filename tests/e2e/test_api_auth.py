"""The FHIR API with CDR_AUTH=on, over real HTTP (the gateway app under uvicorn on port 0, the
sandbox behind it, the database on SQLite): SMART Backend Services from a client's side, and
what each bad token or bad token request gets (issue 14, item 1)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from cdr.client_keys import ClientKey, client_assertion, public_jwks
from cdr.storage.auth_clients import SqlClientRegistry
from fhir_server.auth import ASSERTION_TYPE, RegisteredClient
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_fhir_api import cer_for, first

PUBLIC = "http://gateway.test"  # CDR_FHIR_BASE_URL: the address clients know the gateway by
BASE = f"{PUBLIC}/fhir"
TOKEN_URL = f"{PUBLIC}/auth/token"
SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"
EXTERNAL_ISSUER = "https://as.hopital.example"


@dataclass
class Api:
    url: str  # where the server listens
    keys: dict[str, ClientKey]  # client name → its private key
    external_key: rsa.RSAPrivateKey
    data_dir: Path  # where the gateway made its signing key on first start

    def post_token(self, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.url}/auth/token", data=form, **kwargs)

    def token(self, client: str, scope: str, *, key: ClientKey | None = None) -> str:
        response = self.post_token(
            token_form(self.keys[client] if key is None else key, client, scope)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def token_form(key: ClientKey, client: str, scope: str, **claims: Any) -> dict[str, str]:
    alg = "RS384" if isinstance(key, rsa.RSAPrivateKey) else "ES384"
    assertion = client_assertion(key, alg, client=client, token_url=TOKEN_URL)
    if claims:
        payload = {**jwt.decode(assertion, options={"verify_signature": False}), **claims}
        assertion = jwt.encode(
            payload, key, algorithm=alg, headers=jwt.get_unverified_header(assertion)
        )
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": scope,
    }


def jwks_server(jwks: dict[str, dict[str, Any]]) -> RunningServer:
    """JWK Sets published at /<name>, over a real socket (nothing leaves the machine)."""

    async def serve(request: Any) -> JSONResponse:
        return JSONResponse(jwks[request.path_params["name"]])

    return start_in_thread(Starlette(routes=[Route("/{name}", serve)]))


@pytest.fixture(scope="module")
def api(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    keys: dict[str, ClientKey] = {
        "lab": ec.generate_private_key(ec.SECP384R1()),
        "reader": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "remote": ec.generate_private_key(ec.SECP384R1()),
    }
    external_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    external_jwks = {
        "keys": [
            {
                **jwt.algorithms.RSAAlgorithm.to_jwk(external_key.public_key(), as_dict=True),
                "kid": "as-1",
            }
        ]
    }
    published = jwks_server({"remote": public_jwks(keys["remote"]), "as": external_jwks})
    data_dir = tmp_path_factory.mktemp("auth")
    settings = gateway_settings(
        sandbox.url,
        data_dir,
        auth="on",
        fhir_base_url=BASE,
        auth_external_issuer=EXTERNAL_ISSUER,
        auth_external_jwks_url=f"{published.url}/as",
    )
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    registry = SqlClientRegistry(gateway.database.engine)
    now = datetime.now(UTC)
    registry.add(
        RegisteredClient(
            "lab",
            ("system/CoverageEligibilityRequest.c", "system/*.rs"),
            now,
            jwks=json.dumps(public_jwks(keys["lab"])),
        )
    )
    registry.add(
        RegisteredClient(
            "reader", ("system/Coverage.read",), now, jwks=json.dumps(public_jwks(keys["reader"]))
        )
    )
    registry.add(
        RegisteredClient("remote", ("system/Coverage.rs",), now, jwks_url=f"{published.url}/remote")
    )
    server = start_in_thread(build_http_app(gateway, tune_gc=False))
    yield Api(server.url, keys, external_key, data_dir)
    server.stop()
    published.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(api: Api, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        api.url + SUBMIT,
        json=cer_for(first("c2s")),
        headers={"Content-Type": "application/fhir+json", **headers},
    )


def refused(response: httpx.Response, status: int, code: str) -> str:
    """The issue's diagnostics of an OperationOutcome answer."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["code"] == code
    return str(issue["diagnostics"])


# --- the flow a client follows -------------------------------------------------------------


def test_a_client_discovers_the_token_endpoint_gets_a_token_and_submits(api: Api) -> None:
    configuration = httpx.get(f"{api.url}/fhir/.well-known/smart-configuration").json()
    assert configuration["token_endpoint"] == TOKEN_URL
    assert configuration["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert configuration["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert configuration["grant_types_supported"] == ["client_credentials"]
    assert configuration["capabilities"] == ["client-confidential-asymmetric"]
    assert "system/CoverageEligibilityRequest.c" in configuration["scopes_supported"]
    assert httpx.get(f"{api.url}/.well-known/smart-configuration").json() == configuration

    response = api.post_token(
        token_form(api.keys["lab"], "lab", "system/CoverageEligibilityRequest.c system/Coverage.rs")
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert answer["token_type"] == "bearer"
    assert 0 < answer["expires_in"] <= 300
    assert answer["scope"] == "system/CoverageEligibilityRequest.c system/Coverage.rs"
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "lab" and claims["aud"] == BASE
    assert claims["exp"] - claims["iat"] <= 300

    submitted = submit(api, bearer(answer["access_token"]))
    assert submitted.status_code == 200, submitted.text
    coverage = submitted.json()["insurance"][0]["coverage"]["reference"]
    read = httpx.get(f"{api.url}/fhir/{coverage}", headers=bearer(answer["access_token"]))
    assert read.status_code == 200


def test_the_granted_scope_is_what_was_asked_and_registered(api: Api) -> None:
    answer = api.post_token(token_form(api.keys["reader"], "reader", "system/*.rs")).json()
    assert answer["scope"] == "system/Coverage.rs"
    v1 = api.post_token(token_form(api.keys["reader"], "reader", "system/Coverage.read")).json()
    assert v1["scope"] == "system/Coverage.read"
    search = httpx.get(f"{api.url}/fhir/Coverage", headers=bearer(v1["access_token"]))
    assert search.status_code == 200


def test_a_client_whose_keys_are_at_a_url_gets_a_token(api: Api) -> None:
    token = api.token("remote", "system/Coverage.rs")
    assert httpx.get(f"{api.url}/fhir/Coverage", headers=bearer(token)).status_code == 200


def test_public_endpoints_need_no_token(api: Api) -> None:
    statement = httpx.get(f"{api.url}/fhir/metadata")
    assert statement.status_code == 200
    security = statement.json()["rest"][0]["security"]
    (coding,) = security["service"][0]["coding"]
    assert coding == {
        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
        "code": "SMART-on-FHIR",
    }
    (uris,) = security["extension"]
    assert uris["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert uris["extension"] == [{"url": "token", "valueUri": TOKEN_URL}]
    assert httpx.get(f"{api.url}/healthz").status_code == 200
    assert httpx.get(f"{api.url}/readyz").status_code == 200


# --- requests without a usable token ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", SUBMIT),
        ("GET", "/fhir/Coverage"),
        ("GET", "/fhir/Coverage/c1"),
        ("GET", "/fhir/Coverage/c1/_history/1"),
        ("POST", "/fhir/Coverage/_search"),
        ("GET", "/fhir/NoSuchType"),
        ("DELETE", "/fhir/Coverage/c1"),
    ],
)
def test_no_token_is_401_with_a_challenge(api: Api, method: str, path: str) -> None:
    response = httpx.request(method, api.url + path, json={})
    diagnostics = refused(response, 401, "login")
    assert "bearer token" in diagnostics
    # RFC 6750 §3.1: no error code when the request carried no token at all.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cdr-gateway"'
    assert response.headers["X-Correlation-ID"]


def test_a_token_of_another_scheme_is_no_token(api: Api) -> None:
    response = submit(api, {"Authorization": "Basic bGFiOnNlY3JldA=="})
    refused(response, 401, "login")
    assert "error=" not in response.headers["WWW-Authenticate"]


def _signed(key: Any, alg: str, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": f"{PUBLIC}/auth",
        "sub": "lab",
        "aud": BASE,
        "scope": "system/*.rs system/CoverageEligibilityRequest.c",
        "iat": now,
        "exp": now + 120,
        **changes,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg)


@pytest.mark.parametrize(
    ("case", "expects"),
    [
        ("expired", "has expired"),
        ("bad-signature", "signature does not verify"),
        ("wrong-audience", "not meant for"),
        ("wrong-issuer", "not from an issuer this server trusts"),
        ("not-a-jwt", "not a signed JWT"),
        ("external-wrong-audience", "not meant for"),
        ("external-unknown-key", "signature does not verify"),
    ],
)
def test_a_bad_token_is_401_invalid_token(api: Api, case: str, expects: str) -> None:
    now = int(time.time())
    # Signed with the gateway's own key, one claim wrong; or signed by another key.
    fresh = jwt.decode(api.token("lab", "system/*.rs"), options={"verify_signature": False})
    token = {
        "expired": lambda: _resign_with_gateway_key(api, {**fresh, "exp": now - 60}),
        "bad-signature": lambda: _signed(ec.generate_private_key(ec.SECP384R1()), "ES384"),
        "wrong-audience": lambda: _resign_with_gateway_key(
            api, {**fresh, "aud": "https://other.example/fhir"}
        ),
        "wrong-issuer": lambda: _resign_with_gateway_key(
            api, {**fresh, "iss": "https://evil.example"}
        ),
        "not-a-jwt": lambda: "not.a.jwt",
        "external-wrong-audience": lambda: _external(api, aud="https://other.example/fhir"),
        "external-unknown-key": lambda: _external(api, key=rsa.generate_private_key(65537, 2048)),
    }[case]()
    response = httpx.get(f"{api.url}/fhir/Coverage", headers=bearer(token))
    assert expects in refused(response, 401, "login")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="cdr-gateway", error="invalid_token"')


def _external(api: Api, *, aud: str = BASE, key: rsa.RSAPrivateKey | None = None) -> str:
    now = int(time.time())
    claims = {"iss": EXTERNAL_ISSUER, "sub": "ehr", "aud": aud, "scope": "system/Coverage.rs"}
    return jwt.encode(
        {**claims, "iat": now, "exp": now + 120},
        api.external_key if key is None else key,
        algorithm="RS256",
        headers={"kid": "as-1"},
    )


def _resign_with_gateway_key(api: Api, claims: dict[str, Any]) -> str:
    """A token the gateway would have made, signed with its key (made on first start in its
    data directory), with ``claims``."""
    pem = (api.data_dir / "auth-token-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return jwt.encode(claims, key, algorithm="ES384", headers={"typ": "at+jwt"})


def test_a_token_of_the_external_authorization_server_is_accepted(api: Api) -> None:
    token = _external(api)
    assert httpx.get(f"{api.url}/fhir/Coverage", headers=bearer(token)).status_code == 200
    # Its scope is its own: a submit needs system/CoverageEligibilityRequest.c.
    refused(submit(api, bearer(token)), 403, "forbidden")


def test_a_scope_too_small_is_403_naming_the_scope_needed(api: Api) -> None:
    token = api.token("reader", "system/Coverage.read")
    response = submit(api, bearer(token))
    diagnostics = refused(response, 403, "forbidden")
    assert "system/CoverageEligibilityRequest.c" in diagnostics
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="system/CoverageEligibilityRequest.c"' in challenge
    other_type = httpx.get(f"{api.url}/fhir/Patient", headers=bearer(token))
    assert "system/Patient.s" in refused(other_type, 403, "forbidden")
    # Only read: a search is refused, a read is let through (and finds nothing).
    read_only = api.token("lab", "system/Coverage.r")
    assert "system/Coverage.s" in refused(
        httpx.get(f"{api.url}/fhir/Coverage", headers=bearer(read_only)), 403, "forbidden"
    )
    assert httpx.get(f"{api.url}/fhir/Coverage/nope", headers=bearer(read_only)).status_code == 404


def test_an_interaction_no_scope_covers_is_refused(api: Api) -> None:
    token = api.token("lab", "system/*.rs system/CoverageEligibilityRequest.c")
    response = httpx.delete(f"{api.url}/fhir/Coverage/c1", headers=bearer(token))
    assert "no scope grants DELETE" in refused(response, 403, "forbidden")


# --- token requests refused (RFC 6749 §5.2) ------------------------------------------------


def _oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert "Traceback" not in response.text
    return str(body["error_description"])


@pytest.mark.parametrize(
    ("case", "expects"),
    [
        ("unknown-client", "no client 'nobody' is registered"),
        ("unknown-key", "registered no ES384 key named"),
        ("unknown-key-known-kid", "matches no key"),
        ("wrong-aud", f"aud must be {TOKEN_URL}"),
        ("expired", "has expired"),
        ("exp-too-far", "more than 300 s ahead"),
        ("sub-not-iss", "sub is not its iss"),
        ("no-jti", "has no jti"),
        ("alg-hs256", "accepted: RS384, ES384"),
        ("not-a-jwt", "not a signed JWT"),
        ("wrong-assertion-type", "client_assertion_type must be"),
    ],
)
def test_a_bad_client_assertion_is_invalid_client(api: Api, case: str, expects: str) -> None:
    lab, now = api.keys["lab"], int(time.time())
    scope = "system/Coverage.rs"
    form = {
        "unknown-client": lambda: token_form(lab, "nobody", scope),
        "unknown-key": lambda: token_form(ec.generate_private_key(ec.SECP384R1()), "lab", scope),
        "unknown-key-known-kid": lambda: _signed_by_another_key_naming_the_lab_s(lab),
        "wrong-aud": lambda: token_form(lab, "lab", scope, aud=f"{PUBLIC}/other/token"),
        "expired": lambda: token_form(lab, "lab", scope, exp=now - 120),
        "exp-too-far": lambda: token_form(lab, "lab", scope, exp=now + 3600),
        "sub-not-iss": lambda: token_form(lab, "lab", scope, sub="other"),
        "no-jti": lambda: token_form(lab, "lab", scope, jti=None),
        "alg-hs256": lambda: {
            **token_form(lab, "lab", scope),
            "client_assertion": jwt.encode(
                {"iss": "lab", "sub": "lab", "aud": TOKEN_URL, "exp": now + 60, "jti": "x"},
                "a-shared-secret-of-thirty-two-bytes!",
                algorithm="HS256",
            ),
        },
        "not-a-jwt": lambda: {**token_form(lab, "lab", scope), "client_assertion": "garbage"},
        "wrong-assertion-type": lambda: {
            **token_form(lab, "lab", scope),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        },
    }[case]()
    if case == "no-jti":
        payload = jwt.decode(form["client_assertion"], options={"verify_signature": False})
        del payload["jti"]
        form["client_assertion"] = jwt.encode(payload, lab, algorithm="ES384")
    assert expects in _oauth_error(api.post_token(form), 401, "invalid_client")


def _signed_by_another_key_naming_the_lab_s(lab: ClientKey) -> dict[str, str]:
    form = token_form(lab, "lab", "system/Coverage.rs")
    payload = jwt.decode(form["client_assertion"], options={"verify_signature": False})
    header = jwt.get_unverified_header(form["client_assertion"])
    stranger = ec.generate_private_key(ec.SECP384R1())
    form["client_assertion"] = jwt.encode(payload, stranger, algorithm="ES384", headers=header)
    return form


def test_a_replayed_assertion_is_invalid_client(api: Api) -> None:
    form = token_form(api.keys["lab"], "lab", "system/Coverage.rs")
    assert api.post_token(form).status_code == 200
    again = api.post_token(form)
    assert "used before" in _oauth_error(again, 401, "invalid_client")


@pytest.mark.parametrize(
    ("change", "error", "expects"),
    [
        ({"grant_type": "authorization_code"}, "unsupported_grant_type", "client_credentials"),
        ({"grant_type": ""}, "invalid_request", "missing parameter grant_type"),
        ({"scope": ""}, "invalid_request", "missing parameter scope"),
        ({"client_assertion": ""}, "invalid_request", "missing parameter client_assertion"),
        ({"scope": "patient/*.read"}, "invalid_scope", "not a SMART system scope"),
        ({"scope": "system/Patient.c"}, "invalid_scope", "no scope asked is registered"),
    ],
)
def test_a_bad_token_request_is_400(
    api: Api, change: dict[str, str], error: str, expects: str
) -> None:
    form = {**token_form(api.keys["reader"], "reader", "system/Coverage.rs"), **change}
    assert expects in _oauth_error(api.post_token(form), 400, error)


def test_a_token_request_in_another_format_or_method_is_refused(api: Api) -> None:
    form = token_form(api.keys["reader"], "reader", "system/Coverage.rs")
    as_json = httpx.post(f"{api.url}/auth/token", json=form)
    assert "x-www-form-urlencoded" in _oauth_error(as_json, 400, "invalid_request")
    repeated = httpx.post(
        f"{api.url}/auth/token",
        content="&".join(f"{k}={v}" for k, v in [*form.items(), ("scope", "system/*.rs")]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "more than once" in _oauth_error(repeated, 400, "invalid_request")
    got = httpx.get(f"{api.url}/auth/token")
    assert _oauth_error(got, 405, "invalid_request") and got.headers["allow"] == "POST"
