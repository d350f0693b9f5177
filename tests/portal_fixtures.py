"""The gateway's HTTP app (FHIR API and portal) on a real loopback socket, port 0, beside the
session's sandbox and the sandbox's Pro Santé Connect look-alike (on a port of its own, as
`cdr serve` runs it), and a browser-like client that logs in through it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdr.bootstrap import build_gateway, build_http_app, build_psc_provider
from cdr.settings import Settings
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Portal:
    url: str
    sandbox: RunningServer
    data_dir: Path
    psc_url: str  # the sandbox's Pro Santé Connect look-alike

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15.0)

    def people(self, scenario: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.sandbox.url}/admin/population", params={"scenario": scenario})
        response.raise_for_status()
        people: list[dict[str, Any]] = response.json()
        return people


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def log_in(portal: Portal, client: httpx.Client, professional: int = 0) -> httpx.Response:
    """The PSC flow as a browser runs it: start, the provider's approval page, back."""
    login = client.get("/connexion")
    start = client.post("/connexion/psc", data={"csrf": csrf_of(login.text)})
    assert start.status_code in (302, 303, 307), start.text
    approval = httpx.get(start.headers["location"])
    assert approval.status_code == 200, approval.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', approval.text))
    fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
    choices = re.findall(r'name="professional" value="([^"]+)"', approval.text)
    approved = httpx.post(
        f"{portal.psc_url}/auth/approve",
        data={**fields, "professional": choices[professional], "decision": "approve"},
    )
    assert approved.status_code == 303, approved.text
    return client.get(approved.headers["location"])


def accept_terms(client: httpx.Client) -> httpx.Response:
    page = client.get("/cgu")
    version = re.search(r'name="version" value="([^"]+)"', page.text)
    assert version is not None
    return client.post(
        "/cgu", data={"csrf": csrf_of(page.text), "version": version.group(1), "accept": "oui"}
    )


@pytest.fixture(scope="module")
def portal(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    data_dir = tmp_path_factory.mktemp("portal")
    psc = start_in_thread(build_psc_provider(gateway_settings(sandbox.url, data_dir)))
    settings = portal_settings(sandbox.url, data_dir, psc.url)
    server = start_in_thread(build_http_app(build_gateway(settings), tune_gc=False))
    yield Portal(url=server.url, sandbox=sandbox, data_dir=data_dir, psc_url=psc.url)
    server.stop()
    psc.stop()


def portal_settings(sandbox_url: str, data_dir: Path, psc_url: str) -> Settings:
    return gateway_settings(
        sandbox_url, data_dir, portal_idle_timeout_s=60, portal_psc_issuer=psc_url
    )
