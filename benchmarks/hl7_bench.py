"""HL7 v2 over MLLP (issue 5, Speed), with real processes on loopback.

The gateway runs as users run it: ``cdr serve`` with its embedded sandbox, SQLite in a temporary
``CDR_DATA_DIR``, the answer cache off (``CDR_CACHE_TTL_S=0``) so that every admission makes a
real regime call, and its results going to a receiver in this process. The messages are the PAM
FR A01 of ``tests/fixtures/hl7/good/adt-a01-ins-nir-latin1.hl7`` made out for the sandbox's
members: INS-NIR in PID-3, name, birth date, rang, and an AMO IN1 whose IN1-3 (régime + caisse +
centre) routes the lookup to the member's regime, so that each lookup is one regime call. The
load comes from ``benchmarks/mllp_load.py`` in a process of its own.

1. ACK throughput on 1 and 16 connections against every ACK-only peer of ``benchmarks/hl7_peer.py``
   (python-hl7's asyncio server, MSH parsed, ``create_ack``, nothing stored; and, when Node.js and
   the npm packages are installed, ``node-hl7-server`` and ``@medplum/hl7``). Each AA of the
   gateway is sent after its message is committed to SQLite, and the lookups and result deliveries
   run behind the ACKs in the gateway's processing process (nice 10), on the same two cores: the
   product as it runs. Rounds are interleaved; before each peer round the gateway finishes its
   backlog, so that it does not steal the peer's CPU. Each row also gives the server's CPU time per
   message (psutil, every thread of every process of the server, backlog included). Diagnosis rows,
   not the product: a second gateway whose regime calls all hang, so that nothing runs behind the
   ACKs, measures the durable intake alone.
2. End to end: a burst of distinct admissions with the sandbox adding 20 ms to each lookup, until
   every result is delivered; the rate, the time from each ACK to its result's delivery (matched
   by ZRD-7, the MSH-10 the result answers), and the gateway's resident memory.
3. Our intake against hl7apy on the same message, and the proof that hl7apy is not imported by
   the serving process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.harness import free_port, median, percentile, show, stop_process
from benchmarks.hl7_peer import (
    NODE_PEERS,
    Receiver,
    ServerProcess,
    node_peer_missing,
    node_peer_process,
    peer_process,
)
from benchmarks.mllp_load import MARK, control_id, run_load
from cdr.bootstrap import build_population_for
from cdr.clock import SystemClock
from cdr.settings import Settings
from mapping.hl7v2.er7 import escape
from rights.catalogue import RegimeCatalogue, default_catalogue
from sandbox.members import Member

__all__ = ["run_hl7"]

FIXTURE = Path(__file__).resolve().parent.parent / (
    "tests/fixtures/hl7/good/adt-a01-ins-nir-latin1.hl7"
)
LATENCY_MS = 20.0


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: float  # per measured round of the ACK throughput
    rounds: int
    warmup_s: float
    burst: int  # end-to-end messages
    ours_iterations: int
    hl7apy_iterations: int


FULL = Plan(
    seconds=2.0, rounds=3, warmup_s=0.5, burst=10_000, ours_iterations=2000, hl7apy_iterations=100
)
QUICK = Plan(
    seconds=0.5, rounds=1, warmup_s=0.2, burst=300, ours_iterations=200, hl7apy_iterations=10
)


def run_hl7(*, quick: bool = False) -> None:
    plan = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="cdr-hl7-bench-") as tmp:
        asyncio.run(_run(plan, Path(tmp)))
    _intake_versus_hl7apy(plan)


async def _run(plan: Plan, root: Path) -> None:
    receiver = await Receiver().start()
    try:
        await _throughput(plan, root, receiver)
        await _end_to_end(plan, root, receiver)
    finally:
        await receiver.close()


# -- messages ------------------------------------------------------------------------------------


def members(per_regime: int) -> list[Member]:
    settings = Settings(sandbox_per_regime=per_regime, _env_file=None)  # type: ignore[call-arg]
    return list(
        build_population_for(
            settings, default_catalogue(), SystemClock(settings.zone).today()
        ).members
    )


def organisation_numbers(catalogue: RegimeCatalogue) -> dict[str, str]:
    """IN1-3 routing to each regime (grand régime 2 + caisse 3 + centre 4), and IN1-4 its name."""
    numbers = {}
    for regime in catalogue:
        number = regime.grand_regimes[0] + regime.example_caisse + regime.example_centre
        routed = catalogue.route_organisation(number)
        assert routed is not None and routed.code == regime.code, (regime.code, number)
        numbers[regime.code] = f"{number}|{escape(regime.label)}"
    return numbers


def _field(segment: str, number: int, value: str) -> str:
    fields = segment.split("|")
    index = number - 1 if segment.startswith("MSH|") else number  # MSH-1 is the separator
    fields.extend([""] * (index + 1 - len(fields)))
    fields[index] = value
    return "|".join(fields)


@functools.cache
def _fixture_text() -> str:
    return FIXTURE.read_bytes().decode("latin-1")


def admission_template(member: Member, number: int, organisations: dict[str, str]) -> str:
    """The fixture's A01 made out for ``member``; MSH-10 is ``MARK``, filled in per send."""
    text = _fixture_text()
    care = member.date_of_care.strftime("%Y%m%d") + "083000"
    out = []
    for segment in text.split("\r"):
        kind = segment[:3]
        if kind == "MSH":
            segment = _field(segment, 10, MARK)
        elif kind == "EVN":
            segment = _field(_field(segment, 2, care), 6, care)
        elif kind == "PID":
            ipp = f"{number:010d}^^^CHU-BORDEAUX&1.2.250.1.71.4.2.2.330781196&ISO^PI"
            ins = f"{member.nir}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS^^20190315"
            family, given = escape(member.family_name), escape(member.given_name)
            segment = _field(segment, 3, f"{ipp}~{ins}")
            segment = _field(segment, 5, f"{family}^{given}^{given}^^^^L")
            segment = _field(segment, 7, member.birth_date.replace("-", ""))
            segment = _field(segment, 8, {"1": "M", "2": "F"}.get(member.nir[0], "U"))
            segment = _field(segment, 25, str(member.rang) if member.rang != 1 else "")
        elif kind == "PV1":
            segment = _field(segment, 44, care)
        elif kind == "ZBE":
            segment = _field(segment, 2, care)
        elif kind == "ZFA":  # the AMO group goes after the movement, as PAM FR engines send it
            out.append(f"IN1|1|AMO^Assurance maladie obligatoire^L|{organisations[member.regime]}")
        if segment:
            out.append(segment)
    return "\r".join(out) + "\r"


def _write_templates(path: Path, population: list[Member]) -> Path:
    organisations = organisation_numbers(default_catalogue())
    texts = [admission_template(m, i, organisations) for i, m in enumerate(population)]
    path.write_text(json.dumps(texts), encoding="utf-8")
    return path


# -- the gateway ---------------------------------------------------------------------------------


@dataclass
class GatewayProcess(ServerProcess):
    http_url: str = ""

    async def settled(self) -> bool:
        """Nothing waits for a lookup nor for a delivery (read from /metrics)."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"{self.http_url}/metrics")).text
        for line in text.splitlines():
            if line.startswith(
                ("cdr_hl7_inbox_depth ", 'cdr_hl7_outbox_items{status="pending"}')
            ) and float(line.split()[-1]):
                return False
        return True


@contextmanager
def gateway_process(
    root: Path,
    *,
    destinations: list[str],
    per_regime: int,
    latency_ms: float = 0,
    env: dict[str, str] | None = None,
    kill: bool = False,
) -> Iterator[GatewayProcess]:
    """``cdr serve`` with its embedded sandbox; stopped with SIGINT (Ctrl-C), or SIGKILL when
    ``kill`` (a gateway left with lookups hanging), whatever happens."""
    root.mkdir(parents=True, exist_ok=True)
    http_port, mllp_port, sandbox_port = free_port(), free_port(), free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    environ.update(
        CDR_DATA_DIR=str(root),
        CDR_HTTP_PORT=str(http_port),
        CDR_MLLP_PORT=str(mllp_port),
        CDR_SANDBOX_PORT=str(sandbox_port),
        CDR_SANDBOX_PER_REGIME=str(per_regime),
        CDR_SANDBOX_FAULTS=json.dumps({"*": {"latency_ms": latency_ms}} if latency_ms else {}),
        CDR_CACHE_TTL_S="0",
        CDR_HL7_DESTINATIONS=json.dumps(destinations),
        **(env or {}),
    )
    url = f"http://127.0.0.1:{http_port}"
    with (root / "stderr.log").open("w+", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "cdr.cli", "serve"],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 120
            while not _answers(f"{url}/readyz"):  # MLLP listens before HTTP serves
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr.seek(0)
                    raise RuntimeError(f"cdr serve did not start: {stderr.read()[-4000:]}")
                time.sleep(0.05)
            yield GatewayProcess(process, mllp_port, url)
        finally:
            stop_process(process, kill=kill)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done within {timeout:.0f} s")
        await asyncio.sleep(0.05)


# -- 1. ACK throughput ---------------------------------------------------------------------------


@dataclass
class _Series:
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # server CPU per message
    loop: str = ""  # the load client's event loop
    stale: int = 0  # repeated ACKs of earlier messages the client skipped (node-hl7-server)

    def row(self) -> str:
        rounds = ", ".join(f"{r:,.0f}" for r in self.rates)
        return (
            f"{median(self.rates):,.0f} msgs/s  (rounds: {rounds}; "
            f"{median(self.cpu_us):,.0f} µs server CPU/msg)"
        )


async def _round(
    server: ServerProcess,
    series: _Series,
    settle: Callable[[], Awaitable[bool]] | None,
    templates: Path,
    plan: Plan,
    connections: int,
    prefix: str,
) -> None:
    """One load on ``connections``; the server's CPU counts until its backlog is done."""
    cpu = server.cpu_s()
    got = await run_load(
        server.mllp_port,
        templates,
        prefix=prefix,
        connections=connections,
        count=10**6,
        seconds=plan.seconds,
        warmup_s=plan.warmup_s,
    )
    if settle is not None:
        await _until(settle, 300, "the gateway's backlog")
    series.rates.append(got["rate"])
    series.loop = got["loop"]
    series.stale += got.get("stale", 0)
    series.cpu_us.append((server.cpu_s() - cpu) / (got["acked"] + got["warmup_acked"]) * 1e6)


async def _throughput(plan: Plan, root: Path, receiver: Receiver) -> None:
    templates = _write_templates(root / "throughput.json", members(20))
    gateway = {1: _Series(), 16: _Series()}
    held = {1: _Series(), 16: _Series()}
    normal = _Series()  # diagnosis: the same gateway without the disk flush before each AA
    # Every ACK-only peer that can run here: python-hl7 always, the Node.js ones when installed.
    skipped = {name: why for name in NODE_PEERS if (why := node_peer_missing(name)) is not None}
    names = ["python-hl7", *(name for name in NODE_PEERS if name not in skipped)]
    peers: dict[str, dict[int, _Series]] = {name: {1: _Series(), 16: _Series()} for name in names}
    with contextlib.ExitStack() as stack:
        servers = {"python-hl7": stack.enter_context(peer_process())}
        for name in names[1:]:
            servers[name] = stack.enter_context(node_peer_process(name))
        with gateway_process(root / "gw-ack", destinations=[receiver.address], per_regime=20) as gw:
            for n in (1, 16):
                # Interleaved rounds, a ratio per round. The gateway's CPU and time include its
                # backlog, done before the peers' rounds so that it does not run on their time.
                for r in range(plan.rounds):
                    await _round(gw, gateway[n], gw.settled, templates, plan, n, f"G{n}R{r}")
                    for i, name in enumerate(names):
                        series = peers[name][n]
                        await _round(
                            servers[name], series, None, templates, plan, n, f"P{i}{n}R{r}"
                        )
            delivered, repeats = receiver.count, receiver.repeats
    loop = peers["python-hl7"][1].loop
    # Diagnosis, not the product: the same gateway with every regime call hanging (600 s,
    # no timeout), so that nothing runs behind the ACKs: what the durable intake costs alone.
    with gateway_process(
        root / "gw-held",
        destinations=[receiver.address],
        per_regime=20,
        latency_ms=600_000,
        env={"CDR_REGIME_TIMEOUT_S": "600"},
        kill=True,
    ) as gw:
        for n in (1, 16):
            for r in range(plan.rounds):
                await _round(gw, held[n], None, templates, plan, n, f"H{n}R{r}")
    # Diagnosis: what the durable AA costs (CDR_SQLITE_SYNCHRONOUS=normal: an AA'd message
    # survives a crash of the gateway, not a power loss; docs/hl7-interface.md section 6).
    with gateway_process(
        root / "gw-normal",
        destinations=[receiver.address],
        per_regime=20,
        env={"CDR_SQLITE_SYNCHRONOUS": "normal"},
    ) as gw:
        for r in range(plan.rounds):
            await _round(gw, normal, gw.settled, templates, plan, 16, f"N16R{r}")
    # The audit trail's cost: the same gateway with and without it (CDR_AUDIT=off), each
    # admission's lookup audited behind the ACK; interleaved rounds, a ratio per round.
    audit_on, audit_off = _Series(), _Series()
    with (
        gateway_process(root / "gw-audit-on", destinations=[receiver.address], per_regime=20) as on,
        gateway_process(
            root / "gw-audit-off",
            destinations=[receiver.address],
            per_regime=20,
            env={"CDR_AUDIT": "off"},
        ) as off,
    ):
        for r in range(plan.rounds):
            await _round(off, audit_off, off.settled, templates, plan, 16, f"F16R{r}")
            await _round(on, audit_on, on.settled, templates, plan, 16, f"A16R{r}")
    receiver.reset()
    rows: list[tuple[str, str]] = []
    for n in (1, 16):
        target = "; target >= 1.0" if n == 16 else ""
        rows.append((f"{n} conn: gateway, AA after commit", gateway[n].row()))
        for name in names:
            stale = peers[name][n].stale
            note = f"  [{stale:,} stale repeated ACKs skipped]" if stale else ""
            rows.append((f"{n} conn: peer {name} ACK-only", peers[name][n].row() + note))
        for name in names:
            ratio = _ratio(gateway[n], peers[name][n])
            rows.append(
                (
                    f"{n} conn: gateway / {name}",
                    f"{ratio:.2f} x  (median of per-round ratios{target})",
                )
            )
    for name, why in skipped.items():
        rows.append((f"peer {name}", f"skipped: {why}"))
    rows.append(("results delivered during the rounds", f"{delivered:,} (repeated: {repeats})"))
    rows.append(("load client", f"its own process, {loop} event loop"))
    python_peer = peers["python-hl7"]
    for n in (1, 16):
        ratio = median(held[n].rates) / median(python_peer[n].rates)
        rows += [
            (f"{n} conn: diagnosis, intake alone", held[n].row()),
            (f"{n} conn: intake alone / python-hl7", f"{ratio:.2f} x  (medians)"),
        ]
    rows += [
        ("16 conn: diagnosis, synchronous=normal", normal.row()),
        (
            "16 conn: normal / python-hl7",
            f"{median(normal.rates) / median(python_peer[16].rates):.2f} x  (medians; not "
            "power-safe: what the flush before each AA costs)",
        ),
    ]
    rows += [
        ("16 conn: audit on (the default)", audit_on.row()),
        ("16 conn: audit off (CDR_AUDIT=off)", audit_off.row()),
        (
            "16 conn: audit on / off",
            f"{_ratio(audit_on, audit_off):.2f} x  (median of per-round ratios; target >= 0.90)",
        ),
    ]
    show(
        "HL7 ACK throughput: cdr serve (SQLite; lookups with the embedded sandbox at latency 0 "
        "and result deliveries running behind the ACKs in the gateway's processing process; cache "
        "off) vs every ACK-only MLLP peer that runs here (python-hl7, node-hl7-server, "
        "@medplum/hl7); one message in flight per connection. Diagnosis rows: regime calls held "
        "(600 s), nothing behind the ACKs.",
        rows,
    )


def _ratio(ours: _Series, peer: _Series) -> float:
    return median([g / p for g, p in zip(ours.rates, peer.rates, strict=True)])


# -- 2. End to end -------------------------------------------------------------------------------

_WARM = 100  # admissions sent and delivered before the burst (imports, pools, SQLite pages)


async def _end_to_end(plan: Plan, root: Path, receiver: Receiver) -> None:
    total = plan.burst + _WARM
    per_regime = max(20, math.ceil(total / len(default_catalogue())) + 1)
    population = members(per_regime)
    if len(population) < total:
        raise RuntimeError(f"{len(population)} sandbox members, {total} needed")
    patients = len({(m.nir, m.birth_date, m.rang) for m in population[: plan.burst]})
    burst = _write_templates(root / "burst.json", population[: plan.burst])
    warm = _write_templates(root / "warm.json", population[plan.burst : total])
    mib = 1024 * 1024
    with gateway_process(
        root / "gw-e2e",
        destinations=[receiver.address],
        per_regime=per_regime,
        latency_ms=LATENCY_MS,
    ) as gw:

        async def delivered(count: int) -> bool:
            return receiver.count >= count

        await run_load(gw.mllp_port, warm, prefix="E2EW", connections=4, count=_WARM, seconds=60)
        await _until(lambda: delivered(_WARM), 60, "the warm-up deliveries")
        receiver.reset()
        gc.collect()
        rss = {"before": gw.rss()}
        receiver.watchers.append((plan.burst // 2, lambda: rss.__setitem__("half", gw.rss())))
        peak = rss["before"]

        async def sample_peak() -> None:
            nonlocal peak
            while True:
                peak = max(peak, gw.rss())
                await asyncio.sleep(0.25)

        cpu = gw.cpu_s()
        sampler = asyncio.create_task(sample_peak())
        try:
            sent = await run_load(
                gw.mllp_port,
                burst,
                prefix="E2E",
                connections=16,
                count=plan.burst,
                seconds=600,
                record=True,
            )
            await _until(lambda: delivered(plan.burst), 60 + plan.burst / 20, "the deliveries")
        finally:
            sampler.cancel()
        rss["after"] = gw.rss()
        cpu_us = (gw.cpu_s() - cpu) / plan.burst * 1e6
    acks: dict[str, float] = sent["acks"]
    missing = [cid for cid in acks if cid not in receiver.arrivals]
    if len(acks) != plan.burst or missing:
        raise RuntimeError(f"{len(acks)} ACKs, {len(missing)} results not delivered")
    delays = [(receiver.arrivals[cid] - t) * 1000 for cid, t in acks.items()]
    elapsed = max(receiver.arrivals.values()) - sent["first_send"]
    acked_in = max(acks.values()) - sent["first_send"]
    show(
        f"HL7 end to end: {plan.burst:,} ADT^A01 ({patients:,} distinct patients) on 16 "
        f"connections, one regime call each (IN1-3), sandbox latency {LATENCY_MS:.0f} ms, cache "
        "off, results to a local MLLP receiver",
        [
            (
                "rate, first send to last delivery",
                f"{plan.burst / elapsed:,.0f} msgs/s  ({elapsed:.1f} s; {cpu_us:,.0f} µs gateway "
                "CPU/msg)",
            ),
            ("ACKs alone", f"all in {acked_in:.1f} s = {plan.burst / acked_in:,.0f} msgs/s"),
            (
                "ACK to delivery",
                f"p50 {median(delays):,.0f} ms, p99 {percentile(delays, 99):,.0f} ms  (the "
                "burst waits in the inbox: mostly queueing)",
            ),
            ("results delivered", f"{receiver.count:,} (repeated: {receiver.repeats})"),
            (
                "gateway RSS (both processes)",
                f"before {rss['before'] / mib:.0f} MiB, after half {rss['half'] / mib:.0f} MiB, "
                f"after all {rss['after'] / mib:.0f} MiB  (peak {peak / mib:.0f} MiB)",
            ),
        ],
    )
    receiver.reset()


# -- 3. Our intake against hl7apy ----------------------------------------------------------------


def _intake_versus_hl7apy(plan: Plan) -> None:
    from hl7apy.parser import parse_message

    from hl7_listener.ports import InboundMessage, StoreOutcome
    from hl7_listener.router import Intake, IntakeOptions
    from mapping.hl7v2.adt_to_query import admission_from_message
    from mapping.hl7v2.er7 import Message
    from rights.model import Requester

    catalogue = default_catalogue()
    member = next(m for m in members(20) if m.regime == "cnam" and "open" in m.scenarios)
    template = admission_template(member, 1, organisation_numbers(catalogue))
    text = template.replace(MARK, control_id("MICRO", 1))
    raw = text.encode("latin-1")
    requester = Requester(finess="750712184")
    today = SystemClock().today()

    def ours() -> None:
        message = Message.parse(raw.decode("latin-1"))
        admission_from_message(message, catalogue=catalogue, requester=requester, today=today)

    async def store(_message: InboundMessage) -> StoreOutcome:
        return StoreOutcome(inbox_id=1)

    intake = Intake(
        options=IntakeOptions(),
        catalogue=catalogue,
        requester=requester,
        now=lambda: datetime.now(UTC),
        new_control_id=lambda: "ACK0000000001",
        store=store,
    )

    async def whole(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            reply = await intake.handle(raw)
        assert b"MSA|AA|" in reply, reply
        return (time.perf_counter() - t0) / n * 1e6

    ours_us = _per_call_us(ours, plan.ours_iterations)
    intake_us = asyncio.run(whole(plan.ours_iterations))
    hl7apy_us = _per_call_us(lambda: parse_message(text), plan.hl7apy_iterations)
    probe = (
        "import sys, cdr.commands, cdr.hl7_runtime; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hl7apy'))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    show(
        "HL7 parsing: hl7apy is not on the hot path (the intake uses our own ER7 parser, "
        "mapping/hl7v2/er7.py; hl7apy is used in tests only)",
        [
            (
                "ours: Message.parse + admission_from_message",
                f"{ours_us:,.1f} µs/msg  ({1e6 / ours_us:,.0f} msgs/s on one core, "
                f"n={plan.ours_iterations})",
            ),
            (
                "ours: whole intake, storage excepted (+ charset, checks, ACK)",
                f"{intake_us:,.1f} µs/msg  ({1e6 / intake_us:,.0f} msgs/s)",
            ),
            (
                "hl7apy parse_message, same message",
                f"{hl7apy_us:,.0f} µs/msg  ({1e6 / hl7apy_us:,.0f} msgs/s, "
                f"n={plan.hl7apy_iterations})",
            ),
            ("hl7apy / ours (parse + admission)", f"{hl7apy_us / ours_us:,.0f} x"),
            ("hl7apy modules loaded by cdr serve's code", imported),
        ],
    )


def _per_call_us(fn: Callable[[], object], iterations: int) -> float:
    fn()  # first call: imports and caches
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - t0) / iterations * 1e6
