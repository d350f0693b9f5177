"""`cdr conformance list | validate FILE… | run` (DESIGN §9): the conformance kit of issue 16,
wired to the command line.

The kit itself (``conformance``) knows no settings: the validators get the regime catalogue,
the gateway's default structure and today's date from here, the runner its endpoints.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from cdr.clock import SystemClock
from cdr.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json
from cdr.settings import Settings
from conformance import (
    CaseResult,
    Endpoints,
    case_line,
    html_report,
    json_report,
    junit_xml,
    load_cases,
    manifest_version,
    run_cases,
    select,
    summary_line,
    validate_file,
)
from conformance.credentials import Credentials
from conformance.export import export_fixtures
from conformance.mllp import parse_address
from conformance.population import Population, population_from_json
from rights.catalogue import default_catalogue
from rights.errors import InputError
from rights.model import Requester

__all__ = [
    "Progress",
    "conformance_fixtures_export",
    "conformance_list",
    "conformance_run",
    "conformance_simulate_bus",
    "conformance_simulate_gateway",
    "conformance_validate",
    "credentials_from",
]


def conformance_list(*, as_json: bool) -> int:
    cases = load_cases()
    if as_json:
        print_json(
            [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "title": c.title,
                    "clause": c.clause,
                    "tags": list(c.tags),
                    "input": c.input,
                }
                for c in cases
            ]
        )
        return EXIT_OK
    for case in cases:
        print(f"{case.id}  [{case.kind}]  {case.title}\n    {case.clause}")
    print(f"{len(cases)} cases (manifest {manifest_version()})")
    return EXIT_OK


def conformance_fixtures_export(directory: str) -> int:
    """`cdr conformance fixtures export DIR`: one line saying what was written where."""
    written = export_fixtures(Path(directory), load_cases())
    print(
        f"{directory}: cases.json, {written.inputs} input files, "
        f"{written.test_scripts} TestScripts (testscript/)"
    )
    return EXIT_OK


def conformance_validate(settings: Settings, files: Sequence[str]) -> int:
    """Exit 0 every file valid, 1 some file invalid, 2 some file unreadable."""
    requester = Requester(settings.requester_finess, label="CDR Gateway")
    today = SystemClock(settings.zone).today()  # the day the gateway would receive it
    verdicts = [
        validate_file(path, catalogue=default_catalogue(), requester=requester, today=today)
        for path in files
    ]
    for verdict in verdicts:
        stream = sys.stderr if verdict.unreadable else sys.stdout
        for line in verdict.lines():
            print(line, file=stream)
    if any(v.unreadable for v in verdicts):
        return EXIT_INPUT
    return EXIT_OK if all(v.valid for v in verdicts) else EXIT_FAILED


def conformance_run(
    *,
    fhir: str | None,
    mllp: str | None,
    only: Sequence[str],
    population: str | None = None,
    timeout: float = 10.0,
    junit: str | None = None,
    html: str | None = None,
    json_file: str | None = None,
    credentials: Credentials | None = None,
    mllp_tls: bool = False,
) -> int:
    """Exit 0 every case passed, 1 some case failed, 2 bad options."""
    cases = select(load_cases(), only)
    endpoints = Endpoints(
        fhir=_fhir_base(fhir),
        mllp=_mllp(mllp),
        timeout=_timeout(timeout),
        credentials=credentials or Credentials(),
        mllp_tls=mllp_tls,
    )
    kinds = {c.kind for c in cases}
    if "hl7" in kinds and endpoints.mllp is None:
        raise InputError("the HL7 cases need it (or --only fhir)", location="--mllp")
    if "fhir" in kinds and endpoints.fhir is None:
        raise InputError("the FHIR cases need it (or --only hl7)", location="--fhir")
    people = _population(population, endpoints.credentials)
    start = time.perf_counter()

    progress = Progress(len(cases), sys.stderr)

    def show(result: CaseResult) -> None:
        progress.clear()
        print(case_line(result), flush=True)
        progress.advance(failed=result.failed)

    results = asyncio.run(run_cases(cases, endpoints, population=people, on_result=show))
    progress.clear()
    seconds = time.perf_counter() - start
    _reports(results, seconds, junit=junit, html=html, json_file=json_file)
    print(summary_line(results, seconds))
    return EXIT_FAILED if any(r.failed for r in results) else EXIT_OK


class Progress:
    """A one-line progress bar on a terminal (``[=====     ] 37/74, 1 failed``), redrawn in
    place under the case lines; nothing at all when the stream is not a terminal (CI logs)."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream = total, stream
        self.done = self.failed = 0
        self.shown = stream.isatty() and total > 0

    def advance(self, *, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.shown:
            filled = self.WIDTH * self.done // self.total
            bar = "=" * filled + " " * (self.WIDTH - filled)
            also = f", {self.failed} failed" if self.failed else ""
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}{also}")
            self.stream.flush()

    def clear(self) -> None:
        if self.shown and self.done:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def conformance_simulate_bus(
    *,
    host: str,
    port: int,
    zrd: bool = True,
    junit: str | None = None,
    html: str | None = None,
    json_file: str | None = None,
) -> int:
    """Receive results until Ctrl-C (or SIGTERM); exit 1 if any was invalid."""
    import signal

    from conformance.bus import BusSimulator, Received, as_case_results

    def show(received: Received) -> None:
        print(received.line(), flush=True)

    async def serve() -> list[Received]:
        bus = BusSimulator(zrd=zrd, on_message=show)
        try:
            bound = await bus.start(host, port)
        except OSError as exc:
            raise InputError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", location="--port"
            ) from None
        print(f"bus listening on {host}:{bound} (MLLP; Ctrl-C stops and writes the reports)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
        await bus.stop()
        return bus.received

    start = time.perf_counter()
    received = asyncio.run(serve())
    results = as_case_results(received)
    _reports(results, time.perf_counter() - start, junit=junit, html=html, json_file=json_file)
    invalid = sum(1 for r in received if not r.valid)
    print(f"{len(received)} results received: {len(received) - invalid} valid, {invalid} invalid")
    return EXIT_FAILED if invalid else EXIT_OK


def conformance_simulate_gateway(
    settings: Settings, *, host: str, mllp_port: int, fhir_port: int, bus: str | None
) -> int:
    """Answer as the gateway from the kit's rules and fixtures until Ctrl-C (or SIGTERM)."""
    import signal
    import socket

    import uvicorn

    from conformance.simulated_gateway import SimulatedGateway

    destination = None if bus is None else _address(bus, "--bus")
    clock = SystemClock(settings.zone)
    simulated = SimulatedGateway(
        catalogue=default_catalogue(),
        requester=Requester(settings.requester_finess, label="CDR Gateway"),
        today=clock.today,
        bus=destination,
        on_event=lambda line: print(line, flush=True),
    )
    fhir_socket = socket.socket()
    try:
        fhir_socket.bind((host, fhir_port))
    except OSError as exc:
        fhir_socket.close()
        raise InputError(
            f"cannot listen on {host}:{fhir_port}: {exc.strerror or exc}", location="--fhir-port"
        ) from None

    async def serve() -> None:
        try:
            mllp = await simulated.start_mllp(host, mllp_port)
        except OSError as exc:
            raise InputError(
                f"cannot listen on {host}:{mllp_port}: {exc.strerror or exc}",
                location="--mllp-port",
            ) from None
        config = uvicorn.Config(
            simulated.fhir_app(), log_level="warning", log_config=None, ws="none"
        )
        server = uvicorn.Server(config)
        fhir = int(fhir_socket.getsockname()[1])
        print(
            f"simulated gateway: MLLP {host}:{mllp}, FHIR http://{host}:{fhir}/fhir"
            + (f", results to {bus}" if bus else ", no bus (--bus HOST:PORT to send results)")
            + " (Ctrl-C stops)",
            flush=True,
        )
        try:
            # uvicorn stops on Ctrl-C or SIGTERM, then raises the signal again for the
            # handlers below, which only let this function end and print its summary.
            await server.serve(sockets=[fhir_socket])
        finally:
            await simulated.stop()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda _number, _frame: None)
    asyncio.run(serve())
    fhir_socket.close()
    counts = simulated.acks
    print(
        f"admissions answered: {counts['AA']} AA, {counts['AE']} AE, {counts['AR']} AR; "
        f"{simulated.queries} RQI^I01 queries answered"
    )
    return EXIT_OK


def _address(text: str, option: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise InputError(str(exc), location=option) from None


def _reports(
    results: Sequence[CaseResult],
    seconds: float,
    *,
    junit: str | None,
    html: str | None,
    json_file: str | None,
) -> None:
    if junit:
        _write(junit, junit_xml(results), "--junit")
    if html:
        page = html_report(results, seconds=seconds, version=manifest_version())
        _write(html, page.encode("utf-8"), "--html")
    if json_file:
        import json

        report = json_report(results, seconds=seconds, version=manifest_version())
        text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        _write(json_file, text.encode("utf-8"), "--json")


def credentials_from(
    *,
    client: str | None,
    key: str | None,
    scope: str,
    cert: str | None,
    cert_key: str | None,
    ca: str | None,
) -> Credentials:
    """The kit's credentials from its options; a client needs its key, and a key its client."""
    if (client is None) != (key is None):
        where = "--key" if client is not None else "--client"
        raise InputError(
            "--client and --key go together (a SMART client and its key)", location=where
        )
    if cert_key is not None and cert is None:
        raise InputError("--cert-key needs --cert", location="--cert-key")

    def path(value: str | None) -> Path | None:
        return None if value is None else Path(value)

    return Credentials(
        client=client,
        key=path(key),
        scope=scope,
        cert=path(cert),
        cert_key=path(cert_key),
        ca=path(ca),
    )


def _fhir_base(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("http://", "https://")):
        raise InputError(f"expected an http(s) URL of a FHIR base, got {url!r}", location="--fhir")
    return url.rstrip("/")


def _mllp(address: str | None) -> tuple[str, int] | None:
    if address is None:
        return None
    try:
        return parse_address(address)
    except ValueError as exc:
        raise InputError(str(exc), location="--mllp") from None


def _population(path: str | None, credentials: Credentials | None = None) -> Population | None:
    """The target's people: a file, or a URL that serves them (the embedded sandbox's
    ``/admin/population``: the JSON of `cdr sandbox list --json`)."""
    if path is None:
        return None
    if path.startswith(("http://", "https://")):
        return population_from_json(_fetched(path, credentials or Credentials()), source=path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"cannot read {path}: {reason}", location="--population") from None
    return population_from_json(text, source=path)


def _fetched(url: str, credentials: Credentials) -> str:
    import httpx

    from conformance.credentials import tls_context

    context = tls_context(credentials)
    try:
        answer = httpx.get(url, timeout=30, verify=context if context is not None else True)
    except httpx.HTTPError as exc:
        raise InputError(
            f"cannot read {url}: {exc or type(exc).__name__}", location="--population"
        ) from None
    if answer.status_code != 200:
        raise InputError(f"{url}: HTTP {answer.status_code}", location="--population")
    return answer.text


def _timeout(seconds: float) -> float:
    if not 0 < seconds <= 600:
        raise InputError(f"expected 0 < seconds <= 600, got {seconds:g}", location="--timeout")
    return seconds


def _write(path: str, data: bytes, option: str) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", location=option) from None
