"""``cdr conformance run``: every selected case sent to the endpoints under test, its answer
judged, one result per case.

Cases run one after the other, each on its own MLLP connection or HTTP request, so that the
per-case log reads in order and one case's failure cannot disturb the next. A case whose peer
cannot be reached, stays silent or answers garbage fails with that reason; the run goes on.
"""

from __future__ import annotations

import dataclasses
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from conformance.cases import Case, FhirExpectation, Hl7Expectation
from conformance.credentials import Credentials, TokenRefused, fetch_token, tls_context
from conformance.fhir_judge import judge_fhir_answer
from conformance.hl7_judge import judge_hl7_reply
from conformance.mllp import ExchangeFailed, mllp_exchange
from conformance.population import Population

__all__ = ["CaseResult", "Endpoints", "run_cases"]

FHIR_JSON = "application/fhir+json"
# What a report keeps of an answer: enough to read, never a megabyte per case.
_KEPT = 4000


@dataclass(frozen=True, slots=True)
class Endpoints:
    fhir: str | None = None  # the FHIR base URL, e.g. http://127.0.0.1:8080/fhir
    mllp: tuple[str, int] | None = None
    timeout: float = 10.0
    credentials: Credentials = dataclasses.field(default_factory=Credentials)
    mllp_tls: bool = False  # MLLP over TLS, with the credentials' CA and certificate


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: Case
    diffs: tuple[str, ...]
    seconds: float
    request: str = ""  # what was sent: "POST <url>" or "MLLP host:port"
    response: str = ""  # what came back, cut at a few kilobytes ("" when nothing did)
    skipped: str = ""  # why the case was not run

    @property
    def passed(self) -> bool:
        return not self.diffs and not self.skipped

    @property
    def failed(self) -> bool:
        return bool(self.diffs)


async def run_cases(
    cases: Sequence[Case],
    endpoints: Endpoints,
    *,
    population: Population | None = None,
    on_result: Callable[[CaseResult], None] = lambda _r: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[CaseResult]:
    """Run ``cases`` against ``endpoints``; ``on_result`` sees each result as it comes.
    ``population``: the target's people; a case about someone else is skipped (None: the
    embedded sandbox's, which every case's person belongs to). ``transport`` replaces the
    network for FHIR (tests use ``httpx.MockTransport``)."""
    results: list[CaseResult] = []
    context = tls_context(endpoints.credentials)
    async with httpx.AsyncClient(
        timeout=endpoints.timeout,
        transport=transport,
        follow_redirects=False,
        verify=context if context is not None else True,
    ) as client:
        fhir = await _fhir_access(cases, endpoints, client)
        for case in cases:
            start = time.perf_counter()
            member = case.member
            if population and member and not population.knows(member.nir, member.rang):
                why = f"NIR {member.nir} rang {member.rang} is not in the given population"
                result = CaseResult(case, (), 0.0, skipped=why)
            elif isinstance(case.expect, Hl7Expectation):
                result = await _hl7_case(case, case.expect, endpoints, context)
            elif isinstance(fhir, TokenRefused):
                result = CaseResult(case, (f"no access token: {fhir.message}",), 0.0)
            else:
                result = await _fhir_case(case, case.expect, endpoints, client, fhir)
            result = dataclasses.replace(result, seconds=time.perf_counter() - start)
            results.append(result)
            on_result(result)
    return results


async def _fhir_access(
    cases: Sequence[Case], endpoints: Endpoints, client: httpx.AsyncClient
) -> dict[str, str] | TokenRefused:
    """The headers every FHIR request carries: a bearer token when the kit is a SMART client
    (fetched once for the run), or why there is none."""
    wanted = endpoints.credentials.smart and endpoints.fhir is not None
    if not wanted or not any(c.kind == "fhir" for c in cases):
        return {}
    assert endpoints.fhir is not None
    try:
        token = await fetch_token(client, endpoints.fhir, endpoints.credentials)
    except TokenRefused as exc:
        return exc
    return {"Authorization": f"Bearer {token}"}


async def _hl7_case(
    case: Case, expect: Hl7Expectation, endpoints: Endpoints, context: ssl.SSLContext | None
) -> CaseResult:
    if endpoints.mllp is None:
        return CaseResult(case, ("no MLLP endpoint given (--mllp HOST:PORT)",), 0.0)
    host, port = endpoints.mllp
    secure = endpoints.mllp_tls
    request = f"MLLP{' over TLS' if secure else ''} {host}:{port}"
    tls: ssl.SSLContext | None = None
    if secure:
        tls = context if context is not None else ssl.create_default_context()
    try:
        reply = await mllp_exchange(host, port, case.payload(), timeout=endpoints.timeout, tls=tls)
    except ExchangeFailed as exc:
        return CaseResult(case, (exc.message,), 0.0, request)
    shown = reply[:_KEPT].decode("latin-1").replace("\r", "\n")
    return CaseResult(case, tuple(judge_hl7_reply(reply, expect)), 0.0, request, shown)


async def _fhir_case(
    case: Case,
    expect: FhirExpectation,
    endpoints: Endpoints,
    client: httpx.AsyncClient,
    access: dict[str, str],
) -> CaseResult:
    if endpoints.fhir is None:
        return CaseResult(case, ("no FHIR endpoint given (--fhir URL)",), 0.0)
    url = f"{endpoints.fhir.rstrip('/')}/CoverageEligibilityRequest/$submit"
    request = f"POST {url}"
    try:
        answer = await client.post(
            url,
            content=case.payload(),
            headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **access},
        )
    except httpx.TimeoutException:
        reason = f"FHIR {url}: no answer within {endpoints.timeout:g} s"
        return CaseResult(case, (reason,), 0.0, request)
    except httpx.HTTPError as exc:
        reason = f"FHIR {url}: cannot reach it: {exc or type(exc).__name__}"
        return CaseResult(case, (reason,), 0.0, request)
    diffs = judge_fhir_answer(answer.status_code, answer.content, expect)
    shown = f"HTTP {answer.status_code}\n{answer.content[:_KEPT].decode('utf-8', 'replace')}"
    return CaseResult(case, tuple(diffs), 0.0, request, shown)
