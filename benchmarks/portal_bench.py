"""The staff portal under load (issue 15, "Speed"): the result page's response time, p50 and
p95, for 20 professionals consulting at once, beside the same lookups over FHIR `$submit` with
the same concurrency. The difference is what the portal adds to the lookup itself: the form's
checks, the session, the page rendered from the report.

The gateway runs as users run it (`cdr serve`, answer cache off: every request reaches the
regime); each user logs in through the sandbox's Pro Santé Connect look-alike (served by this
process for the logins) and accepts the terms first. Both loads cycle through the sandbox's
open CNAM members.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from benchmarks.fhir_bench import SUBMIT, _cer_for, _gateway, _members
from benchmarks.harness import SandboxProcess, median, percentile, show
from cdr.bootstrap import build_psc_provider
from cdr.settings import Settings
from sandbox.population import Member
from sandbox.server import start_in_thread

__all__ = ["run_portal"]

USERS = 20
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def run_portal(sandbox: SandboxProcess, *, quick: bool = False) -> None:
    seconds, rounds = (1.0, 1) if quick else (2.0, 3)
    members = _members()
    # The PSC look-alike in this process: it serves the logins only, before the load.
    psc = start_in_thread(build_psc_provider(Settings(_env_file=None)))  # type: ignore[call-arg]
    with (
        psc,
        tempfile.TemporaryDirectory(prefix="cdr-bench-portal-") as tmp,
        _gateway(sandbox.url, 1, None, Path(tmp), {"CDR_PORTAL_PSC_ISSUER": psc.url}) as gateway,
    ):
        clients = [_logged_in(gateway.url, psc.url) for _ in range(USERS)]
        try:
            tokens = [_csrf(c.get("/consultation/cnam").text) for c in clients]
            # Alternated rounds: a drift of the machine weighs on both sides alike.
            portal: list[float] = []
            fhir: list[float] = []
            ratios: list[float] = []
            for _ in range(rounds):
                page = asyncio.run(_portal_load(gateway.url, clients, tokens, members, seconds))
                api = asyncio.run(_fhir_load(gateway.url, members, seconds))
                portal += page
                fhir += api
                ratios.append(median(page) / median(api))
        finally:
            for client in clients:
                client.close()
    rows = [
        ("concurrent users", str(USERS)),
        ("portal result page", _summary(portal)),
        ("FHIR $submit, same lookups", _summary(fhir)),
        ("portal p50 / FHIR p50", f"{median(ratios):.2f} x (median of {rounds} rounds)"),
    ]
    show("Staff portal: result page under load (cdr serve, 1 worker, cache off)", rows)


def _summary(ms: list[float]) -> str:
    return f"p50 {median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms ({len(ms)} requests)"


def _csrf(page: str) -> str:
    match = _CSRF.search(page)
    if match is None:
        raise RuntimeError("no CSRF token on the portal page")
    return match.group(1)


def _logged_in(gateway_url: str, psc_url: str) -> httpx.Client:
    """A professional logged in through the sandbox's PSC look-alike, terms accepted."""
    client = httpx.Client(base_url=gateway_url, timeout=30)
    start = client.post("/connexion/psc", data={"csrf": _csrf(client.get("/connexion").text)})
    approval = httpx.get(start.headers["location"])
    fields = {k: v.replace("&amp;", "&") for k, v in _HIDDEN.findall(approval.text)}
    professional = re.search(r'name="professional" value="([^"]+)"', approval.text)
    if professional is None:
        raise RuntimeError("the PSC approval page lists nobody")
    approved = httpx.post(
        f"{psc_url}/auth/approve",
        data={**fields, "professional": professional.group(1), "decision": "approve"},
    )
    client.get(approved.headers["location"])
    terms = client.get("/cgu").text
    version = re.search(r'name="version" value="([^"]+)"', terms)
    if version is not None:
        client.post(
            "/cgu", data={"csrf": _csrf(terms), "version": version.group(1), "accept": "oui"}
        )
    return client


def _form(member: Member, token: str) -> dict[str, str]:
    year, month, day = member.birth_date.split("-")
    care = member.date_of_care
    return {
        "csrf": token,
        "nir": member.nir,
        "birth_date": f"{day}/{month}/{year}",
        "rang": str(member.rang),
        "date_of_care": f"{care.day:02d}/{care.month:02d}/{care.year}",
    }


async def _portal_load(
    url: str, clients: list[httpx.Client], tokens: list[str], members: list[Member], seconds: float
) -> list[float]:
    async def user(index: int, deadline: float, out: list[float]) -> None:
        async with httpx.AsyncClient(base_url=url, cookies=clients[index].cookies) as client:
            i = index
            while time.perf_counter() < deadline:
                form = _form(members[i % len(members)], tokens[index])
                began = time.perf_counter()
                page = await client.post("/consultation/cnam", data=form)
                out.append((time.perf_counter() - began) * 1000)
                if page.status_code != 200 or "Droits ouverts" not in page.text:
                    raise RuntimeError(f"portal answered {page.status_code}")
                i += USERS

    return await _run(user, seconds)


async def _fhir_load(url: str, members: list[Member], seconds: float) -> list[float]:
    bodies = [_cer_for(m) for m in members]

    async def user(index: int, deadline: float, out: list[float]) -> None:
        async with httpx.AsyncClient(base_url=url) as client:
            i = index
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                answer = await client.post(SUBMIT, json=bodies[i % len(bodies)])
                out.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"$submit answered {answer.status_code}")
                i += USERS

    return await _run(user, seconds)


async def _run(
    user: Callable[[int, float, list[float]], Awaitable[None]], seconds: float
) -> list[float]:
    """Every user runs until the deadline; a first half second warms the connections and is
    not counted."""
    out: list[float] = []
    warm_until = time.perf_counter() + 0.5
    await asyncio.gather(*(user(i, warm_until, []) for i in range(USERS)))
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(user(i, deadline, out) for i in range(USERS)))
    return out
