"""`cdr conformance run` over real sockets: the kit passes against the project's own gateway,
and fails, with a readable reason per case, against endpoints that are deliberately wrong
(an MLLP peer that ACKs everything AA, one that never answers, an HTTP app that answers 200 {}
to everything, an address where nothing listens)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from cdr.cli import main
from cdr.hl7_runtime import Hl7Runtime
from conformance import Endpoints, load_cases, run_cases, summary_line
from conformance.cases import Hl7Expectation
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings

SB, EB = b"\x0b", b"\x1c\x0d"
CASES = load_cases()
# The HL7 cases a gateway must not answer AA (every ACK rule, and the events not configured).
BAD_HL7 = [c for c in CASES if isinstance(c.expect, Hl7Expectation) and c.expect.msa_1 != "AA"]
# And the query, which a plain ACK does not answer: an RPI^I01 does.
QUERIES = [c for c in CASES if isinstance(c.expect, Hl7Expectation) and c.expect.reply != "ACK"]


@pytest.fixture
async def own_gateway(
    sandbox: RunningServer, tmp_path: Path
) -> AsyncIterator[tuple[str, tuple[str, int]]]:
    """The gateway as `cdr serve` wires it: the HL7 side on this loop, the FHIR API under
    uvicorn in a thread (each with its own database), both on port 0."""
    (tmp_path / "hl7").mkdir()
    (tmp_path / "fhir").mkdir()
    hl7_gateway = build_gateway(gateway_settings(sandbox.url, tmp_path / "hl7", mllp_port=0))
    runtime = Hl7Runtime(hl7_gateway)
    await runtime.start()
    fhir_gateway = build_gateway(gateway_settings(sandbox.url, tmp_path / "fhir"))
    publish_conformance(fhir_gateway)
    server = start_in_thread(build_http_app(fhir_gateway, tune_gc=False))
    try:
        yield f"{server.url}/fhir", ("127.0.0.1", runtime.port)
    finally:
        server.stop()  # the app's shutdown closes its gateway
        await runtime.stop()
        await hl7_gateway.aclose()


async def test_the_kit_passes_against_the_projects_own_gateway(own_gateway):
    fhir, mllp = own_gateway
    start = time.perf_counter()
    results = await run_cases(CASES, Endpoints(fhir=fhir, mllp=mllp, timeout=30))
    print(summary_line(results, time.perf_counter() - start))  # issue 16: the time, no bound
    failed = {r.case.id: r.diffs for r in results if not r.passed}
    assert failed == {}
    assert len(results) == len(CASES)


# --- deliberately broken endpoints ----------------------------------------------------------


class _AckEverythingAA(socketserver.BaseRequestHandler):
    """An MLLP peer that answers AA to every frame, echoing MSH-10 when it finds one."""

    def handle(self) -> None:
        data = b""
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
            while EB in data:
                frame, data = data.split(EB, 1)
                fields = frame[frame.find(SB) + 1 :].split(b"\r", 1)[0].split(b"|")
                control_id = fields[9] if fields[0] == b"MSH" and len(fields) > 9 else b""
                ack = b"MSH|^~\\&|FAKE|FAKE|||20261207||ACK|1|P|2.5\rMSA|AA|" + control_id + b"\r"
                self.request.sendall(SB + ack + EB)


class _Silent(socketserver.BaseRequestHandler):
    """An MLLP peer that reads and never answers."""

    def handle(self) -> None:
        while self.request.recv(65536):
            pass


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()


@pytest.fixture
def aa_peer() -> Iterator[int]:
    yield from _serve(_AckEverythingAA)


@pytest.fixture
def silent_peer() -> Iterator[int]:
    yield from _serve(_Silent)


@pytest.fixture(scope="module")
def empty_200() -> Iterator[str]:
    async def anything(_request: Request) -> Response:
        return Response(b"{}", media_type="application/fhir+json")

    app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])
    server = start_in_thread(app)
    yield f"{server.url}/fhir"
    server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_against_broken_fakes_the_run_fails_with_a_reason_per_case_and_writes_junit(
    aa_peer, empty_200, tmp_path, capsys
):
    junit, report, page = tmp_path / "kit.xml", tmp_path / "kit.json", tmp_path / "kit.html"
    argv = ["conformance", "run", "--fhir", empty_200, "--mllp", f"127.0.0.1:{aa_peer}"]
    argv += ["--junit", str(junit), "--json", str(report), "--html", str(page)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    failed = len(BAD_HL7) + len(QUERIES) + sum(1 for c in CASES if c.kind == "fhir")
    assert out.splitlines()[-1].endswith(f"{len(CASES) - failed} passed, {failed} failed")
    assert "FAIL hl7-ae-102-pid7-iso-date" in out
    assert "MSA-1: expected AE, got AA" in out
    assert "ERR: expected ERR-3 102 at PID-7, got no ERR segment" in out

    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures")) == (str(len(CASES)), str(failed))
    cases = {tc.get("name"): tc for tc in suite.iter("testcase")}
    assert set(cases) == {c.id for c in CASES}
    for case in BAD_HL7:
        failure = cases[case.id].find("failure")
        assert failure is not None and "MSA-1: expected A" in failure.get("message", "")
    fhir_failure = cases["fhir-submit-cer-52345-validation"].find("failure")
    assert fhir_failure is not None
    assert fhir_failure.get("message") == "the answer is not a FHIR resource: '{}'"
    bad_failure = cases["fhir-bad-nir-key"].find("failure")
    assert bad_failure is not None
    assert bad_failure.get("message", "").startswith("HTTP status: expected 422, got 200")
    assert cases["hl7-adt-a01-ins-nir-latin1"].find("failure") is None  # an AA is right there
    query_failure = cases["hl7-rqi-i01-query-utf8"].find("failure")
    assert query_failure is not None
    assert query_failure.get("message") == "MSH-9: expected RPI^I01, got ACK"
    assert '"failed": ' + str(failed) in report.read_text("utf-8")
    html = page.read_text("utf-8")
    assert "<li>ERR: expected ERR-3 102 at PID-7, got no ERR segment</li>" in html
    assert f"{failed} failed" in html


def test_a_silent_peer_and_an_unreachable_api_fail_their_cases_and_the_run_goes_on(
    silent_peer, capsys
):
    closed = _closed_port()
    argv = ["conformance", "run", "--timeout", "0.3", "--mllp", f"127.0.0.1:{silent_peer}"]
    argv += ["--fhir", f"http://127.0.0.1:{closed}/fhir"]
    argv += ["--only", "hl7-ar-203-version-2-1", "--only", "hl7-adt-a01-ins-nir-latin1"]
    argv += ["--only", "fhir-bad-nir-key"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.count("(the peer stayed silent)") == 2
    assert f"FHIR http://127.0.0.1:{closed}/fhir/CoverageEligibilityRequest/$submit: " in out
    assert "cannot reach it" in out
    assert out.splitlines()[-1].endswith("0 passed, 3 failed")


def test_bad_options_exit_2_with_one_line(capsys):
    assert main(["conformance", "run", "--mllp", "nowhere", "--only", "hl7"]) == 2
    assert capsys.readouterr().err == "cdr: error: --mllp: expected HOST:PORT, got 'nowhere'\n"
    assert main(["conformance", "run", "--only", "fhir"]) == 2
    assert "--fhir: the FHIR cases need it" in capsys.readouterr().err


def test_the_population_can_come_from_the_target_itself(sandbox, empty_200, capsys):
    # The sandbox serves its people (/admin/population, as `cdr sandbox list --json` prints
    # them). The submit cases ask about people with rights: given only the "closed" ones,
    # every case is about someone else and skipped; given them all, every case runs.
    argv = ["conformance", "run", "--fhir", empty_200, "--only", "submit", "--population"]
    submit = [c for c in CASES if "submit" in c.tags and c.member is not None]
    assert main([*argv, f"{sandbox.url}/admin/population?scenario=closed"]) == 0
    out = capsys.readouterr().out
    assert out.count("SKIP ") == len(submit) and "is not in the given population" in out
    assert main([*argv, f"{sandbox.url}/admin/population"]) == 1  # run: the fake answers {}
    out = capsys.readouterr().out
    assert "SKIP " not in out and out.count("FAIL ") == len(submit)
    assert main([*argv, f"{sandbox.url}/admin/nothing-here"]) == 2
    assert "--population: " in capsys.readouterr().err
