"""`cdr clients add | list | remove` (DESIGN §9): the API clients registered in the gateway's
database, by their public keys (tokens) and/or their TLS client certificate (mutual TLS);
`cdr clients keygen` and `cdr clients token`: a client's side of the token flow, for
demonstrations and checks (docs/security.md)."""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from cdr.client_certificates import read_client_certificate
from cdr.client_keys import (
    client_assertion,
    generate_client_key,
    load_client_key,
    private_pem,
    public_jwks,
)
from cdr.exits import EXIT_FAILED, EXIT_OK, print_json
from cdr.gateway_database import open_existing_database
from cdr.render import table
from cdr.settings import Settings
from cdr.storage.auth_clients import SqlClientRegistry
from fhir_server.auth import ASSERTION_TYPE, RegisteredClient, parse_key_set
from fhir_server.auth.errors import KeySetUnavailable
from fhir_server.auth.scopes import parse_scope
from rights.errors import CdrError, InputError

__all__ = ["clients_add", "clients_keygen", "clients_list", "clients_remove", "clients_token"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# What `cdr clients token` asks when no --scope is given: everything; the server grants the
# part registered for the client.
_EVERYTHING = ("system/*.rs", "system/CoverageEligibilityRequest.c")


def clients_add(
    settings: Settings,
    name: str,
    *,
    jwks: str | None,
    scopes: Sequence[str],
    certificate: Path | None = None,
) -> int:
    """Registers ``name`` with its public keys (``jwks``, to ask for tokens) and/or its TLS
    client certificate (``certificate``, to call the API over mutual TLS without a token)."""
    _check_name(name)
    if jwks is None and certificate is None:
        raise InputError(
            "give the client's public keys (--jwks) or its TLS certificate (--certificate)",
            location="--jwks / --certificate",
        )
    for scope in scopes:
        try:
            parse_scope(scope)
        except InputError as exc:
            raise InputError(exc.message, location="--scope") from None
    ways: dict[str, str] = {}
    if jwks is not None and jwks.startswith(("http://", "https://")):
        if not urlsplit(jwks).hostname:
            raise InputError(f"{jwks!r} is no URL with a host", location="--jwks")
        ways["jwks_url"] = jwks
    elif jwks is not None:
        ways["jwks"] = _read_jwks(Path(jwks))
    if certificate is not None:
        read = read_client_certificate(certificate)
        ways.update(certificate_thumbprint=read.thumbprint, certificate_subject=read.subject)
    client = RegisteredClient(
        name=name, scopes=tuple(dict.fromkeys(scopes)), created_at=datetime.now(UTC), **ways
    )
    database = open_existing_database(settings)
    try:
        registry = SqlClientRegistry(database.engine)
        added = registry.add(client)
        holder = None if added else _certificate_holder(registry, client)
    finally:
        database.dispose()
    if holder is not None:
        raise InputError(
            f"this certificate is registered already, for client {holder!r}", location=_CERT
        )
    if not added:
        raise InputError(
            f"a client named {name!r} is registered already (`cdr clients remove {name}` first)",
            location="NAME",
        )
    print(f"client {name} registered: {' '.join(client.scopes)}; {_ways(client, jwks)}")
    return EXIT_OK


_CERT = "--certificate"


def _certificate_holder(registry: SqlClientRegistry, client: RegisteredClient) -> str | None:
    """The client another registration of ``client``'s certificate belongs to, if any."""
    if client.certificate_thumbprint is None:
        return None
    holder = registry.by_certificate(client.certificate_thumbprint)
    return None if holder is None or holder.name == client.name else holder.name


def _ways(client: RegisteredClient, jwks: str | None) -> str:
    ways = []
    if client.jwks_url is not None:
        ways.append(f"keys: {client.jwks_url}")
    elif client.jwks is not None:
        ways.append(f"keys: {len(parse_key_set(client.jwks).keys)} key(s) from {jwks}")
    if client.certificate_subject is not None:
        ways.append(
            f"certificate: {client.certificate_subject} "
            f"(SHA-256 thumbprint {client.certificate_thumbprint})"
        )
    return "; ".join(ways)


def _check_name(name: str) -> None:
    if _NAME.fullmatch(name) is None:
        raise InputError(
            f"{name[:80]!r}: a client name is 1 to 128 letters, digits, '.', '_' or '-'",
            location="NAME",
        )


def _read_jwks(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"cannot read {path}: {reason}", location="--jwks") from None
    try:
        key_set = parse_key_set(text)
    except KeySetUnavailable as exc:
        raise InputError(f"{path}: {exc.message}", location="--jwks") from None
    if key_set.has_private_key:
        raise InputError(
            f"{path} holds a private key (member d): register the public keys only",
            location="--jwks",
        )
    if not (key_set.verification_keys(None, "RS384") or key_set.verification_keys(None, "ES384")):
        raise InputError(
            f"{path}: no key signs RS384 or ES384 (an RSA key, or an EC key on P-384)",
            location="--jwks",
        )
    return text


def clients_list(settings: Settings, *, as_json: bool) -> int:
    database = open_existing_database(settings)
    try:
        clients = SqlClientRegistry(database.engine).all()
    finally:
        database.dispose()
    rows = [_client_json(client) for client in clients]
    if as_json:
        print_json(rows)
        return EXIT_OK
    print(
        table(
            ["Name", "Scopes", "Keys", "Certificate", "Registered"],
            [
                [
                    str(r["name"]),
                    " ".join(r["scopes"]),
                    r["jwks_url"] or (f"{len(r['jwks']['keys'])} inline" if r["jwks"] else "-"),
                    r["certificate"]["subject"] if r["certificate"] else "-",
                    str(r["created_at"]),
                ]
                for r in rows
            ],
        )
    )
    print(f"\n{len(rows)} client(s)")
    return EXIT_OK


def _client_json(client: RegisteredClient) -> dict[str, Any]:
    return {
        "name": client.name,
        "scopes": list(client.scopes),
        "jwks": json.loads(client.jwks) if client.jwks is not None else None,
        "jwks_url": client.jwks_url,
        "certificate": None
        if client.certificate_thumbprint is None
        else {
            "x5t#S256": client.certificate_thumbprint,
            "subject": client.certificate_subject,
        },
        "created_at": client.created_at.isoformat(),
    }


def clients_remove(settings: Settings, name: str) -> int:
    database = open_existing_database(settings)
    try:
        removed = SqlClientRegistry(database.engine).remove(name)
    finally:
        database.dispose()
    if not removed:
        print(f"cdr: error: no client named {name!r} is registered", file=sys.stderr)
        return EXIT_FAILED
    print(f"client {name} removed")
    return EXIT_OK


def clients_keygen(prefix: Path, *, alg: Literal["ES384", "RS384"]) -> int:
    """``PREFIX.key.pem`` (the private key, readable by its owner only) and
    ``PREFIX.jwks.json`` (the public JWK Set to register)."""
    key = generate_client_key(alg)
    key_file = prefix.with_name(prefix.name + ".key.pem")
    jwks_file = prefix.with_name(prefix.name + ".jwks.json")
    try:
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"cannot create {key_file}: {exc.strerror}", location="PREFIX") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(private_pem(key))
    jwks_file.write_text(json.dumps(public_jwks(key), indent=2) + "\n", encoding="utf-8")
    print(f"private key {key_file} (keep it secret); public keys {jwks_file} (register them)")
    return EXIT_OK


def clients_token(
    settings: Settings,
    name: str,
    *,
    key_file: Path,
    scopes: Sequence[str],
    url: str | None,
    ca_file: Path | None = None,
) -> int:
    """Discovers the token endpoint at ``url`` (the FHIR base; default this gateway's), signs
    an assertion as ``name`` with the key in ``key_file`` and prints the access token.
    ``ca_file``: the CAs an https gateway's certificate chains to (default the system's)."""
    key, alg = load_client_key(key_file)
    base = (url or settings.effective_fhir_base_url).rstrip("/")
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                f"cannot read CAs from {ca_file}: {exc}", location="--cacert"
            ) from None
    with httpx.Client(timeout=10.0, trust_env=False, verify=verify) as http:
        token_url = _token_endpoint(http, base)
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(key, alg, client=name, token_url=token_url),
            "scope": " ".join(scopes or _EVERYTHING),
        }
        try:
            response = http.post(token_url, data=form)
        except httpx.HTTPError as exc:
            raise CdrError(f"cannot reach the token endpoint {token_url}: {exc}") from None
    answer = _json_object(response)
    if response.status_code != 200 or "access_token" not in answer:
        error = answer.get("error", f"HTTP {response.status_code}")
        raise CdrError(f"token refused: {error}: {answer.get('error_description', '')}")
    granted = f"scope: {answer.get('scope', '')}; expires in {answer.get('expires_in')} s"
    print(granted, file=sys.stderr)
    print(answer["access_token"])
    return EXIT_OK


def _token_endpoint(http: httpx.Client, base: str) -> str:
    # SMART v2 §2.1: a client finds the token endpoint in the server's configuration.
    where = f"{base}/.well-known/smart-configuration"
    try:
        response = http.get(where)
    except httpx.HTTPError as exc:
        raise CdrError(f"cannot reach {where}: {exc}") from None
    token_url = _json_object(response).get("token_endpoint")
    if response.status_code != 200 or not isinstance(token_url, str):
        raise CdrError(
            f"{where} answered {response.status_code} without a token_endpoint: "
            "is the gateway running with CDR_AUTH=on?"
        )
    return token_url


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
