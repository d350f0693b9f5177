"""Lookup benchmarks against the sandbox running in its own process.

1. Discovery over the 17 regimes with the sandbox adding 50 ms to each: concurrent fan-out
   (the gateway) against the same adapters called one after another (the sequential peer).
2. Single-regime lookups at 64 concurrent requests: the gateway's lookup use case against a bare
   httpx load loop posting the same requests to the same sandbox endpoint.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from benchmarks.harness import SandboxProcess, median, percentile, show
from cdr.bootstrap import Gateway, build_gateway, build_population_for
from cdr.clock import SystemClock
from cdr.settings import Settings
from regimes.cnam.codec import build_request
from regimes.transport import FastTransport
from rights.catalogue import default_catalogue
from rights.identifiers import parse_nir
from rights.model import Requester, RightsQuery

__all__ = ["run_discovery", "run_throughput"]

LATENCY_MS = 50.0
REQUESTER = Requester(finess="750712184")


def _gateway(url: str, data_dir: Path) -> Gateway:
    settings = Settings(
        regimes_url=url,
        data_dir=data_dir,
        cache_ttl_s=0,
        regime_timeout_s=10,
        http_pool_size=128,
        _env_file=None,  # type: ignore[call-arg]
    )
    return build_gateway(settings)


def _queries(regime: str | None, member_regime: str) -> list[RightsQuery]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    population = build_population_for(
        settings, default_catalogue(), SystemClock(settings.zone).today()
    )
    out = []
    for m in population.members:
        if m.regime == member_regime and m.rights is not None and "open" in m.scenarios:
            out.append(
                RightsQuery(
                    nir=parse_nir(m.nir),
                    date_of_care=m.date_of_care,
                    birth_date=m.birth_date,
                    rang=m.rang,
                    regime=regime,
                    requester=REQUESTER,
                )
            )
    return out


async def _discovery(url: str, data_dir: Path, rounds: int, seq_rounds: int) -> None:
    gateway = _gateway(url, data_dir)
    query = _queries(None, "cnam")[0]
    try:
        await gateway.lookup.lookup(query)  # warm the connection pool
        concurrent: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            report = await gateway.lookup.lookup(query)
            concurrent.append((time.perf_counter() - t0) * 1000)
            assert len(report.results) == 17 and not report.failed, report.failed
        sequential: list[float] = []
        for _ in range(seq_rounds):
            t0 = time.perf_counter()
            for regime in gateway.catalogue:
                await gateway.registry.get(regime.code).fetch(
                    regime, replace(query, regime=regime.code)
                )
            sequential.append((time.perf_counter() - t0) * 1000)
    finally:
        await gateway.aclose()
    p50 = median(concurrent)
    seq50 = median(sequential)
    show(
        f"Discovery over 17 regimes, sandbox latency {LATENCY_MS:.0f} ms per regime",
        [
            (
                "gateway (concurrent) p50",
                f"{p50:.1f} ms  (p95 {percentile(concurrent, 95):.1f} ms, n={rounds})",
            ),
            ("peer: sequential p50", f"{seq50:.1f} ms  (n={seq_rounds})"),
            ("p50 / latency", f"{p50 / LATENCY_MS:.2f} x  (target <= 1.30)"),
            ("sequential / concurrent", f"{seq50 / p50:.1f} x"),
        ],
    )


def run_discovery(sandbox: SandboxProcess, *, rounds: int = 60, seq_rounds: int = 5) -> None:
    sandbox.set_faults("*", latency_ms=LATENCY_MS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_discovery(sandbox.url, Path(tmp), rounds, seq_rounds))
    finally:
        sandbox.reset_faults()


async def _load(concurrency: int, seconds: float, work) -> float:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds
    done = 0

    async def worker(start: int) -> None:
        nonlocal done
        i = start
        while loop.time() < stop:
            await work(i)
            done += 1
            i += concurrency

    t0 = loop.time()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (loop.time() - t0)


async def _throughput(
    url: str, data_dir: Path, concurrency: int, seconds: float, rounds: int
) -> None:
    queries = _queries("cnam", "cnam")
    bodies = [build_request(q) for q in queries]
    endpoint = f"{url}/regimes/cnam/cdri/v1/consultations"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CDR-Requester-Finess": REQUESTER.finess,
    }
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    gateway = _gateway(url, data_dir)
    rates: dict[str, list[float]] = {"gateway": [], "httpx": [], "httpx-fast": []}
    # Peer 1: httpx as it comes (httpcore transport). Peer 2: httpx on the same transport the
    # gateway uses, so that the ratio isolates what the gateway itself adds.
    plain = httpx.AsyncClient(limits=limits, timeout=30, trust_env=False)
    fast = httpx.AsyncClient(transport=FastTransport(max_connections=128), timeout=30)
    try:

        def bare(client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
            async def post(i: int) -> None:
                response = await client.post(
                    endpoint, content=bodies[i % len(bodies)], headers=headers
                )
                assert response.status_code == 200

            return post

        async def through_gateway(i: int) -> None:
            report = await gateway.lookup.lookup(queries[i % len(queries)])
            assert report.results[0].status.value == "found"

        work = {"gateway": through_gateway, "httpx": bare(plain), "httpx-fast": bare(fast)}
        for fn in work.values():  # warm every pool
            await _load(concurrency, 0.5, fn)
        for _ in range(rounds):
            for name, fn in work.items():
                rates[name].append(await _load(concurrency, seconds, fn))
    finally:
        await gateway.aclose()
        await plain.aclose()
        await fast.aclose()
    gw, peer, peer_fast = (median(rates[k]) for k in ("gateway", "httpx", "httpx-fast"))
    # Rounds are interleaved; a ratio per round cancels what the machine did meanwhile.
    ratio = median([g / p for g, p in zip(rates["gateway"], rates["httpx"], strict=True)])
    ratio_fast = median([g / p for g, p in zip(rates["gateway"], rates["httpx-fast"], strict=True)])
    show(
        f"Single-regime lookups (cnam), {concurrency} concurrent, sandbox latency 0",
        [
            (
                "gateway lookup use case",
                f"{gw:,.0f} lookups/s  (rounds: {_rates(rates['gateway'])})",
            ),
            (
                "peer: bare httpx loop",
                f"{peer:,.0f} requests/s  (rounds: {_rates(rates['httpx'])})",
            ),
            (
                "peer: bare httpx loop, FastTransport",
                f"{peer_fast:,.0f} requests/s  (rounds: {_rates(rates['httpx-fast'])})",
            ),
            ("gateway / bare httpx", f"{ratio:.2f} x  (median of per-round ratios; >= 0.70)"),
            (
                "gateway / bare httpx on FastTransport",
                f"{ratio_fast:.2f} x  (median of per-round ratios; >= 0.70)",
            ),
        ],
    )


def _rates(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def run_throughput(
    sandbox: SandboxProcess, *, concurrency: int = 64, seconds: float = 2.0, rounds: int = 5
) -> None:
    sandbox.reset_faults()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_throughput(sandbox.url, Path(tmp), concurrency, seconds, rounds))
