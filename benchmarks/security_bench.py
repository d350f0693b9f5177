"""Authenticated regime calls (issue 13): what security costs.

1. Lookup throughput with security on (mutual TLS with keep-alive, a signed assertion on every
   call, the sandbox checking both) against the same lookups on plain HTTP, each gateway on its
   own sandbox process, in interleaved rounds: the median of the per-round ratios (>= 0.8).
2. The cost of one assertion (made and signed; checked by the sandbox, the first time and
   again within its life), of a full TLS handshake with a client certificate, and of a resumed
   one.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from benchmarks.harness import free_port, median, show
from benchmarks.lookup_bench import _load, _queries
from card.pki import PkiFiles, init_pki
from cdr import event_loop
from cdr.bootstrap import Gateway, build_gateway
from cdr.settings import Settings
from regimes.assertion import StructureAssertionSigner
from rights.eligibility import default_categories
from sandbox.assertion_check import AssertionChecker, AssertionTrust
from sandbox.eligibility import default_structures

__all__ = ["run_security"]

FINESS = "750100018"  # an eligible structure of the sandbox's FINESS directory


@contextmanager
def _sandbox(env: dict[str, str]) -> Iterator[int]:
    """`cdr sandbox serve` in its own process (a core of its own), up when its port accepts."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    environ.update(env, CDR_SANDBOX_PORT=str(port), CDR_DEMO_SECURITY="off")
    process = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "sandbox", "serve"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _secured_env(pki: PkiFiles) -> dict[str, str]:
    return {
        "CDR_SANDBOX_TLS_CERT_FILE": str(pki.path("server.sandbox.cert")),
        "CDR_SANDBOX_TLS_KEY_FILE": str(pki.path("server.sandbox.key")),
        "CDR_SANDBOX_TLS_CLIENT_CA_FILE": str(pki.path("ca.chain")),
        "CDR_SANDBOX_REQUIRE_ASSERTIONS": "true",
        "CDR_SANDBOX_CRL_FILES": (
            f'["{pki.path("crl.persons")}", "{pki.path("crl.organisations")}"]'
        ),
    }


def _gateway(url: str, data: Path, pki: PkiFiles | None) -> Gateway:
    files: dict[str, object] = {}
    if pki is not None:
        files = {
            "regimes_ca_file": pki.path("ca.chain"),
            "regimes_client_cert_file": pki.path("structure.auth.cert"),
            "regimes_client_key_file": pki.path("structure.auth.key"),
            "structure_sign_cert_file": pki.path("structure.sign.cert"),
            "structure_sign_key_file": pki.path("structure.sign.key"),
        }
    settings = Settings(
        regimes_url=url,
        data_dir=data,
        requester_finess=FINESS,
        cache_ttl_s=0,
        regime_timeout_s=10,
        http_pool_size=128,
        _env_file=None,  # type: ignore[call-arg]
        **files,  # type: ignore[arg-type]
    )
    return build_gateway(settings)


async def _throughput(
    plain_url: str, secured_url: str, pki: PkiFiles, root: Path, *, quick: bool
) -> tuple[list[float], list[float]]:
    concurrency, seconds, rounds = (8, 0.3, 1) if quick else (64, 2.0, 5)
    queries = _queries("cnam", "cnam")
    plain = _gateway(plain_url, root / "plain", None)
    secured = _gateway(secured_url, root / "secured", pki)
    rates: tuple[list[float], list[float]] = ([], [])
    try:

        def work(gateway: Gateway) -> Callable[[int], object]:
            async def lookup(i: int) -> None:
                report = await gateway.lookup.lookup(queries[i % len(queries)])
                assert report.results[0].status.value == "found", report.results[0].detail

            return lookup

        for gateway in (plain, secured):  # warm both pools (and the secured handshakes)
            await _load(concurrency, 0.5, work(gateway))
        for _ in range(rounds):
            rates[0].append(await _load(concurrency, seconds, work(plain)))
            rates[1].append(await _load(concurrency, seconds, work(secured)))
    finally:
        await plain.aclose()
        await secured.aclose()
    return rates


def _per_call_us(action: Callable[[], object], n: int) -> float:
    action()  # warm
    t0 = time.perf_counter()
    for _ in range(n):
        action()
    return (time.perf_counter() - t0) / n * 1e6


def _assertion_costs(pki: PkiFiles, n: int) -> tuple[float, float, float]:
    """µs to make and sign one assertion, to check one first seen, and one seen before."""
    key = serialization.load_pem_private_key(pki.path("structure.sign.key").read_bytes(), None)
    assert isinstance(key, RSAPrivateKey)
    tls = x509.load_pem_x509_certificate(pki.path("structure.auth.cert").read_bytes())
    signer = StructureAssertionSigner(
        key=key,
        chain=[x509.load_pem_x509_certificate(pki.path("structure.sign.cert").read_bytes())],
        tls_client_cert=tls,
        finess=FINESS,
        category="355",
        now=lambda: datetime.now(UTC),
        renew_after_s=0,  # a new assertion each time: the cost of making one
    )
    sign_us = _per_call_us(signer.assertion, n)
    trust = AssertionTrust.from_pem(
        pki.path("ca.chain").read_bytes(),
        [pki.path("crl.persons").read_bytes(), pki.path("crl.organisations").read_bytes()],
    )
    tokens = [signer.assertion() for _ in range(n + 1)]
    der = tls.public_bytes(serialization.Encoding.DER)

    def checker() -> AssertionChecker:
        return AssertionChecker(
            trust, default_categories(), default_structures().category_of, lambda: datetime.now(UTC)
        )

    fresh = iter(tokens)
    first = checker()
    first_us = _per_call_us(lambda: first.check(next(fresh), der), n)
    again = checker()
    again_us = _per_call_us(lambda: again.check(tokens[0], der), n)
    return sign_us, first_us, again_us


def _handshakes(port: int, pki: PkiFiles, n: int) -> tuple[float, float, int]:
    """µs per full handshake and per resumed one (a TLS 1.3 ticket), with the client
    certificate; how many of the resumed ones the server did resume."""
    context = ssl.create_default_context(cafile=str(pki.path("ca.chain")))
    context.load_cert_chain(pki.path("structure.auth.cert"), pki.path("structure.auth.key"))
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

    def exchange(session: ssl.SSLSession | None) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", port))
        tls = context.wrap_socket(raw, server_hostname="localhost", session=session)
        return tls

    def talk(tls: ssl.SSLSocket) -> ssl.SSLSession | None:
        tls.sendall(request)
        while tls.recv(65536):  # the ticket arrives with the answer
            pass
        session = tls.session
        tls.close()
        return session

    ticket = talk(exchange(None))
    full: list[float] = []
    resumed: list[float] = []
    reused = 0
    for _ in range(n):
        t0 = time.perf_counter()
        tls = exchange(None)
        full.append(time.perf_counter() - t0)
        talk(tls)
        t0 = time.perf_counter()
        tls = exchange(ticket)
        resumed.append(time.perf_counter() - t0)
        reused += bool(tls.session_reused)
        ticket = talk(tls) or ticket
    return median(full) * 1e6, median(resumed) * 1e6, reused


def run_security(*, quick: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pki = init_pki(root / "pki", structure_finess=FINESS, structure_name="Bench")
        with _sandbox({}) as plain_port, _sandbox(_secured_env(pki)) as secured_port:
            # On the loop `cdr serve` runs (uvloop where installed): its TLS is not asyncio's.
            plain, secured = event_loop.run(
                _throughput(
                    f"http://127.0.0.1:{plain_port}",
                    f"https://localhost:{secured_port}",
                    pki,
                    root,
                    quick=quick,
                ),
                choice="auto",
            )
            full_us, resumed_us, reused = _handshakes(secured_port, pki, 5 if quick else 100)
        sign_us, first_us, again_us = _assertion_costs(pki, 5 if quick else 200)
    ratio = median([s / p for s, p in zip(secured, plain, strict=True)])
    rounds = ", ".join(f"{p:,.0f}/{s:,.0f}" for p, s in zip(plain, secured, strict=True))
    n = 5 if quick else 100
    show(
        "Regime calls with security on (mutual TLS, keep-alive, a signed assertion per call, "
        "the sandbox checking both) vs plain HTTP, single-regime lookups (cnam), each "
        "gateway on its own sandbox process",
        [
            ("security off", f"{median(plain):,.0f} lookups/s"),
            ("security on", f"{median(secured):,.0f} lookups/s  (rounds off/on: {rounds})"),
            ("on / off", f"{ratio:.2f} x  (median of per-round ratios; target >= 0.80)"),
            ("assertion made and signed (RS256)", f"{sign_us:,.0f} µs"),
            ("assertion checked, first seen", f"{first_us:,.0f} µs  (chain, CRLs, signature)"),
            ("assertion checked, seen before", f"{again_us:,.0f} µs  (within its life)"),
            ("TLS handshake, full (client certificate)", f"{full_us:,.0f} µs  (p50, n={n})"),
            (
                "TLS handshake, resumed (TLS 1.3 ticket)",
                f"{resumed_us:,.0f} µs  (p50; {reused} of {n} resumed)",
            ),
        ],
    )
