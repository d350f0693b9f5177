"""FHIR `$submit` over real HTTP, the load coming from another process on loopback.

The gateway runs as users run it (`cdr serve`, its regimes at the benchmark's sandbox process,
sandbox latency 0) with the answer cache off (``CDR_CACHE_TTL_S=0``) and the bodies cycling
through the sandbox's open CNAM members, so that every request reaches the regime and the
database. Each request is a validation on `cnam`: one regime call per `$submit`.

1. Throughput against a floor (``benchmarks/floor_app.py``: parse and validate the same CER with
   fhir.resources R4B, return a canned CERsp), both under uvicorn with one worker, loaded by wrk.
2. The gateway's own time per request, one request at a time: response time minus the regime's
   time the gateway reports in the CERsp (``cdr-regime-status`` ``elapsedMs``).
3. Throughput by worker processes (``cdr serve --workers N``) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks.harness import SandboxProcess, free_port, median, percentile, show, stop_process
from benchmarks.wrk import WrkResult, run_wrk, write_post_script, wrk_available
from cdr.bootstrap import build_population_for
from cdr.clock import SystemClock
from cdr.settings import Settings
from mapping.fhir.common import CLASS_CDR_REGIME, CS_CLASS_TYPE, SYSTEM_NIR
from regimes.cnam.codec import build_request
from rights.catalogue import default_catalogue
from rights.identifiers import parse_nir
from rights.model import Requester, RightsQuery
from sandbox.population import Member

__all__ = ["postgres_admin_url", "run_fhir"]

SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"
CONNECTIONS = 32
REQUESTER = Requester(finess="750712184")  # the gateway's default CDR_REQUESTER_FINESS
# The server .ci/run points the PostgreSQL tests at; the benchmark makes a database of its own.
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Running:
    url: str
    pid: int  # with --workers N, the parent's: its workers' CPU is not counted


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: int  # per wrk run (whole seconds: wrk's unit)
    rounds: int
    overhead_count: int
    overhead_seconds: float
    workers: tuple[int, ...]


FULL = Plan(seconds=2, rounds=3, overhead_count=400, overhead_seconds=6.0, workers=(1, 2, 4))
QUICK = Plan(seconds=1, rounds=1, overhead_count=20, overhead_seconds=2.0, workers=(1, 2))


def run_fhir(sandbox: SandboxProcess, *, quick: bool = False) -> None:
    if not wrk_available():
        show("FHIR $submit", [("skipped", "wrk is not installed (Debian package wrk)")])
        return
    plan = QUICK if quick else FULL
    sandbox.reset_faults()
    members = _members()
    with tempfile.TemporaryDirectory(prefix="cdr-fhir-bench-") as tmp:
        root = Path(tmp)
        script = write_post_script(root, SUBMIT, [json.dumps(_cer_for(m)) for m in members])
        with (
            _floor(root) as floor,
            _gateway(sandbox.url, 1, None, root / "sqlite-versus") as gateway,
        ):
            _versus(floor, gateway, script, plan)
            _overhead(gateway.url, sandbox.url, members, root, plan)
        _with_token(sandbox.url, [json.dumps(_cer_for(m)) for m in members], plan, root)
        _audit_on_off(sandbox.url, script, plan, root)
        _curves(sandbox.url, script, plan, root)


def _members() -> list[Member]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    population = build_population_for(
        settings, default_catalogue(), SystemClock(settings.zone).today()
    )
    return [
        m
        for m in population.members
        if m.regime == "cnam" and m.rights is not None and "open" in m.scenarios
    ]


def _cer_for(member: Member) -> dict[str, Any]:
    """A validation CER for ``member`` on its regime: contained Patient and Coverage."""
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": SYSTEM_NIR, "value": member.nir}],
        "name": [{"family": member.family_name, "given": [member.given_name]}],
        "birthDate": member.birth_date,
    }
    coverage = {
        "resourceType": "Coverage",
        "id": "c1",
        "status": "active",
        "beneficiary": {"reference": "#p1"},
        "payor": [{"display": member.regime}],
        "class": [
            {
                "type": {"coding": [{"system": CS_CLASS_TYPE, "code": CLASS_CDR_REGIME}]},
                "value": member.regime,
            }
        ],
    }
    return {
        "resourceType": "CoverageEligibilityRequest",
        "contained": [patient, coverage],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#p1"},
        "created": "2026-11-24T10:00:00+01:00",
        "insurer": {"display": "CDR"},
        "servicedDate": member.date_of_care.isoformat(),
        "insurance": [{"focal": True, "coverage": {"reference": "#c1"}}],
    }


def _load(url: str, script: Path, plan: Plan) -> WrkResult:
    result = run_wrk(url + SUBMIT, script, connections=CONNECTIONS, seconds=plan.seconds)
    failed = result.bad_status + result.socket_errors
    if failed > result.requests // 100:
        raise RuntimeError(f"{url}: {failed} failed requests out of {result.requests}")
    return result


def _versus(floor: Running, gateway: Running, script: Path, plan: Plan) -> None:
    for server in (floor, gateway):  # warm both: imports, pools, the first SQLite pages
        run_wrk(server.url + SUBMIT, script, connections=CONNECTIONS, seconds=1)
    runs: dict[str, list[WrkResult]] = {"floor": [], "gateway": []}
    cpu: dict[str, list[float]] = {"floor": [], "gateway": []}
    # Interleaved rounds, a ratio per round: what the machine did meanwhile cancels out.
    for _ in range(plan.rounds):
        for name, server in (("floor", floor), ("gateway", gateway)):
            before = _cpu_seconds(server.pid)
            result = _load(server.url, script, plan)
            runs[name].append(result)
            cpu[name].append((_cpu_seconds(server.pid) - before) * 1000 / max(result.requests, 1))
    ratio = median([g.rate / f.rate for g, f in zip(runs["gateway"], runs["floor"], strict=True)])
    show(
        f"FHIR $submit throughput, wrk {CONNECTIONS} connections, one uvicorn worker each "
        "(cnam validation, sandbox latency 0, cache off)",
        [
            ("gateway: cdr serve --workers 1", _summary(runs["gateway"])),
            ("floor: FastAPI + fhir.resources R4B", _summary(runs["floor"])),
            ("gateway / floor", f"{ratio:.2f} x  (median of per-round ratios; target >= 0.50)"),
            (
                "CPU per request (server process)",
                f"gateway {median(cpu['gateway']):.2f} ms, floor {median(cpu['floor']):.2f} ms",
            ),
        ],
    )


def _with_token(sandbox_url: str, bodies: list[str], plan: Plan, root: Path) -> None:
    """`$submit` with a bearer token (CDR_AUTH=on, a client registered with its key, a token
    from the gateway's token endpoint) against the same gateway open, interleaved rounds."""
    data = root / "auth-on"
    with (
        _gateway(sandbox_url, 1, None, root / "auth-off") as open_gateway,
        _gateway(sandbox_url, 1, None, data, {"CDR_AUTH": "on"}) as guarded,
    ):
        env = dict(os.environ, CDR_DATA_DIR=str(data))
        key = root / "bench-client"
        cdr = [sys.executable, "-m", "cdr.cli", "clients"]
        for argv in (
            ["keygen", str(key)],
            [
                "add",
                "bench",
                "--jwks",
                f"{key}.jwks.json",
                "--scope",
                "system/CoverageEligibilityRequest.c",
            ],
        ):
            subprocess.run(cdr + argv, env=env, check=True, capture_output=True, timeout=60)
        token = subprocess.run(
            [*cdr, "token", "bench", "--key", f"{key}.key.pem", "--url", f"{guarded.url}/fhir"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        plain = write_post_script(root, SUBMIT, bodies, name="plain.lua")
        bearer = write_post_script(
            root, SUBMIT, bodies, headers={"Authorization": f"Bearer {token}"}, name="bearer.lua"
        )
        opened, tokened, ratio = _interleaved((open_gateway, plain), (guarded, bearer), plan)
    show(
        "FHIR $submit with a bearer token (CDR_AUTH=on, SMART Backend Services) vs open, "
        f"wrk {CONNECTIONS} connections, one worker each",
        [
            ("open (CDR_AUTH=off)", _summary(opened)),
            ("bearer token (CDR_AUTH=on)", _summary(tokened)),
            ("token / open", f"{ratio:.2f} x  (median of per-round ratios; target >= 0.90)"),
        ],
    )


def _interleaved(
    base: tuple[Running, Path], other: tuple[Running, Path], plan: Plan
) -> tuple[list[WrkResult], list[WrkResult], float]:
    """Both (server, script) warmed, then loaded in interleaved rounds, ``base`` first in each:
    their results and the median of the per-round ratios other / base."""
    for server, script in (base, other):
        run_wrk(server.url + SUBMIT, script, connections=CONNECTIONS, seconds=1)
    base_runs: list[WrkResult] = []
    other_runs: list[WrkResult] = []
    for _ in range(plan.rounds):
        base_runs.append(_load(base[0].url, base[1], plan))
        other_runs.append(_load(other[0].url, other[1], plan))
    ratio = median([o.rate / b.rate for o, b in zip(other_runs, base_runs, strict=True)])
    return base_runs, other_runs, ratio


def _audit_on_off(sandbox_url: str, script: Path, plan: Plan, root: Path) -> None:
    """`$submit` with the audit trail (the default: each lookup's AuditEvent hash-chained in
    its answer's transaction) against the same gateway with CDR_AUDIT=off, interleaved rounds."""
    with (
        _gateway(sandbox_url, 1, None, root / "audit-on") as audited,
        _gateway(sandbox_url, 1, None, root / "audit-off", {"CDR_AUDIT": "off"}) as unaudited,
    ):
        off, on, ratio = _interleaved((unaudited, script), (audited, script), plan)
    show(
        "FHIR $submit with the audit trail (CDR_AUDIT=on, the default) vs without, "
        f"wrk {CONNECTIONS} connections, one worker each",
        [
            ("audit off (CDR_AUDIT=off)", _summary(off)),
            ("audit on", _summary(on)),
            ("on / off", f"{ratio:.2f} x  (median of per-round ratios; target >= 0.90)"),
        ],
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(runs: list[WrkResult]) -> str:
    rates = ", ".join(f"{r.rate:,.0f}" for r in runs)
    p99 = median([r.p99_ms for r in runs])
    return f"{median([r.rate for r in runs]):,.0f} requests/s  (rounds: {rates}; p99 {p99:.1f} ms)"


def _overhead(
    gateway: str, sandbox_url: str, members: list[Member], root: Path, plan: Plan
) -> None:
    queries = [
        RightsQuery(
            nir=parse_nir(m.nir),
            date_of_care=m.date_of_care,
            birth_date=m.birth_date,
            rang=m.rang,
            regime="cnam",
            requester=REQUESTER,
        )
        for m in members
    ]
    spec = {
        "gateway_url": gateway + SUBMIT,
        "bodies": [json.dumps(_cer_for(m)) for m in members],
        "sandbox_url": f"{sandbox_url}/regimes/cnam/cdri/v1/consultations",
        "sandbox_bodies": [build_request(q).decode() for q in queries],
        "sandbox_headers": {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CDR-Requester-Finess": REQUESTER.finess,
        },
        "count": plan.overhead_count,
        "seconds": plan.overhead_seconds,
    }
    spec_path = root / "latency.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.latency_client", str(spec_path)],
        capture_output=True,
        text=True,
        timeout=plan.overhead_seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"latency client failed: {done.stderr}")
    series = json.loads(done.stdout)
    total, regime, direct = series["total_ms"], series["regime_ms"], series["direct_ms"]
    own = [t - r for t, r in zip(total, regime, strict=True)]
    show(
        f"FHIR $submit overhead, one request at a time from another process (n={len(total)})",
        [
            (
                "response time (client clock)",
                f"p50 {median(total):.2f} ms, p99 {percentile(total, 99):.2f} ms",
            ),
            ("regime time (CERsp elapsedMs)", f"p50 {median(regime):.2f} ms"),
            (
                "overhead: response - elapsedMs",
                f"p50 {median(own):.2f} ms (target <= 5 ms), p99 {percentile(own, 99):.2f} ms",
            ),
            ("same regime request, direct", f"p50 {median(direct):.2f} ms (client to sandbox)"),
            ("overhead: response p50 - direct p50", f"{median(total) - median(direct):.2f} ms"),
        ],
    )


def _curves(sandbox_url: str, script: Path, plan: Plan, root: Path) -> None:
    cores = os.cpu_count() or 1
    counts = [n for n in plan.workers if n <= max(2, cores)]
    skipped = [n for n in plan.workers if n not in counts]
    note = f"  ({', '.join(map(str, skipped))} skipped: {cores} cores)" if skipped else ""
    rows = [("SQLite", _curve(sandbox_url, counts, script, plan, root, None) + note)]
    admin_url = postgres_admin_url()
    reason = _postgres_unavailable(admin_url)
    if reason is None:
        try:
            rows.append(
                ("PostgreSQL", _curve(sandbox_url, counts, script, plan, root, admin_url) + note)
            )
        except sa.exc.SQLAlchemyError as exc:  # e.g. no right to create a database
            reason = str(exc).splitlines()[0]
    if reason is not None:
        rows.append(("PostgreSQL", f"skipped: {reason}"))
    show(
        f"FHIR $submit throughput by HTTP worker processes (cdr serve --workers N; "
        f"wrk {CONNECTIONS} connections; requests/s)",
        rows,
    )


def _curve(
    sandbox_url: str, counts: list[int], script: Path, plan: Plan, root: Path, admin_url: str | None
) -> str:
    points = []
    for n in counts:
        with (
            _postgres_database(admin_url) as database_url,
            _gateway(
                sandbox_url, n, database_url, root / f"curve-{n}-{uuid.uuid4().hex[:6]}"
            ) as server,
        ):
            # Warm every worker.
            run_wrk(server.url + SUBMIT, script, connections=CONNECTIONS, seconds=1)
            runs = [_load(server.url, script, plan) for _ in range(plan.rounds)]
        points.append(f"{n}: {median([r.rate for r in runs]):,.0f}")
    return "   ".join(points)


def postgres_admin_url() -> str:
    """The PostgreSQL server the benchmarks make their databases on."""
    return os.environ.get("CDR_BENCH_POSTGRES_URL") or os.environ.get(
        "CDR_TEST_POSTGRES_URL", POSTGRES_URL
    )


def _postgres_unavailable(admin_url: str) -> str | None:
    url = sa.make_url(admin_url)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=0.5):
            pass
    except OSError:
        return f"no server answers on {url.host}:{url.port or 5432}"
    return None


@contextmanager
def _postgres_database(admin_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one run, dropped after; None means SQLite."""
    if admin_url is None:
        yield None
        return
    name = f"cdr_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@contextmanager
def _gateway(
    regimes_url: str,
    workers: int,
    database_url: str | None,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Running]:
    port = free_port()
    env = dict(
        os.environ,
        **(extra_env or {}),
        CDR_REGIMES_URL=regimes_url,
        CDR_DATA_DIR=str(data_dir),
        CDR_HTTP_PORT=str(port),
        CDR_MLLP_PORT=str(free_port()),  # `cdr serve` listens for HL7 too: not on 2575 here
        CDR_WORKERS=str(workers),
        CDR_CACHE_TTL_S="0",
    )
    env.pop("CDR_DATABASE_URL", None)
    if database_url is not None:
        env["CDR_DATABASE_URL"] = database_url
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "cdr.cli", "serve"]
    with _server(argv, env, f"{url}/readyz", data_dir) as pid:
        yield Running(url, pid)


@contextmanager
def _floor(root: Path) -> Iterator[Running]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "benchmarks.floor_app:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    argv += ["--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    with _server(argv, dict(os.environ), f"{url}/healthz", root / "floor") as pid:
        yield Running(url, pid)


@contextmanager
def _server(argv: list[str], env: dict[str, str], ready_url: str, logs: Path) -> Iterator[int]:
    """A server process, ready when ``ready_url`` answers 200, as its pid; stopped with SIGINT
    (Ctrl-C)."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stderr.log").open("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while not _answers(ready_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    raise RuntimeError(f"{' '.join(argv[1:4])} did not start: {stderr.read()}")
                time.sleep(0.05)
            yield process.pid
        finally:
            stop_process(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
