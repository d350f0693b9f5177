"""The lines an operator follows for lookups (issue 18.8): one per lookup, one per regime that
failed, one per circuit breaker change; NIRs masked, the correlation id and entry carried."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from cdr.logs import JsonFormatter, LookupEvents, configure_logging, lookup_entry, with_entry
from fhir_server.context import correlation_id
from rights.catalogue import default_catalogue
from rights.errors import RegimeUnavailable
from rights.lookup import RightsLookup
from rights.resilience import ResiliencePolicy
from tests.unit.rights.fakes import NIR, FakeClock, FakeGateway, query, rights_for

CATALOGUE = default_catalogue()


class Lines(logging.Handler):
    """Each record as the service writes it (JSON, formatted where it was logged)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def events(self, name: str) -> list[dict[str, object]]:
        return [line for line in self.lines if line.get("event") == name]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("cdr")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(before)


def _down(regime, q):
    raise RegimeUnavailable("connection refused", regime=regime.code)


def _lookup(*, msa_down: bool) -> RightsLookup:
    behaviours = {"cnam": lambda r, q: rights_for(r)}
    if msa_down:
        behaviours["msa"] = _down
    gateways = {r.code: FakeGateway(r.family, behaviours) for r in CATALOGUE}
    policy = ResiliencePolicy(max_attempts=1, breaker_failures=1, cache_ttl_s=0)

    async def no_sleep(_seconds: float) -> None:
        return None

    return RightsLookup(CATALOGUE, gateways, FakeClock(), policy, sleep=no_sleep)


async def test_one_line_per_lookup_with_entry_correlation_and_each_regime(lines):
    lookup = _lookup(msa_down=False)
    events = LookupEvents(lookup)
    token = correlation_id.set("req-42")
    try:

        async def run(q):
            events(await lookup.lookup(q))

        await with_entry("fhir", run)(query("cnam"))
    finally:
        correlation_id.reset(token)
    [line] = lines.events("lookup")
    assert line["entry"] == "fhir"
    assert line["correlation_id"] == "req-42"
    assert line["regimes"] == "cnam:found"
    assert line["outcome"] == "complete"
    assert isinstance(line["duration_ms"], float)
    assert NIR.value not in json.dumps(lines.lines)
    assert line["nir"] == NIR.value[:5] + "********"
    assert lines.events("regime_failure") == [] and lines.events("breaker") == []
    assert lookup_entry.get() == ""  # the entry does not leak past the call


async def test_a_failed_regime_and_its_breaker_are_one_line_each(lines):
    lookup = _lookup(msa_down=True)
    events = LookupEvents(lookup)
    events(await lookup.lookup(query(None)))  # discovery: msa fails, its breaker opens
    [lookup_line] = lines.events("lookup")
    assert "msa:unavailable" in str(lookup_line["regimes"])
    assert "cnam:found" in str(lookup_line["regimes"])
    [failure] = lines.events("regime_failure")
    assert (failure["regime"], failure["status"]) == ("msa", "unavailable")
    assert failure["level"] == "warning"
    [breaker] = lines.events("breaker")
    assert (breaker["regime"], breaker["state"]) == ("msa", "open")
    events(await lookup.lookup(query("cnam")))  # nothing changed: no new breaker line
    assert len(lines.events("breaker")) == 1


def test_the_log_level_is_configurable():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(json_lines=True, level="warning")
        assert root.level == logging.WARNING
        assert not logging.getLogger("cdr.lookup").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
