from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

import pytest

from rights.catalogue import default_catalogue
from rights.errors import ConfigError, RegimeRejected, RegimeTimeout, RegimeUnavailable
from rights.lookup import RightsLookup
from rights.model import Requester
from rights.resilience import BreakerState, ResiliencePolicy
from rights.result import RegimeStatus
from tests.unit.rights.fakes import FakeClock, FakeGateway, InFlight, query, rights_for

CATALOGUE = default_catalogue()
FAMILIES = ("cnam", "msa", "slm", "special")


def found(regime, q):
    return rights_for(regime)


def raising(exc_type, times=10**9):
    state = {"left": times}

    def behaviour(regime, q):
        if state["left"] > 0:
            state["left"] -= 1
            raise exc_type(f"{regime.code} failed", regime=regime.code)
        return rights_for(regime)

    return behaviour


def make(behaviours=None, *, policy=None, delay=0.0):
    clock = FakeClock()
    in_flight = InFlight()
    gateways = {
        f: FakeGateway(f, behaviours or {}, delay=delay, in_flight=in_flight) for f in FAMILIES
    }
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    by_regime = {r.code: gateways[r.family] for r in CATALOGUE}
    lookup = RightsLookup(
        CATALOGUE, by_regime, clock, policy or ResiliencePolicy(), sleep=fake_sleep
    )
    return lookup, gateways, clock, sleeps


async def test_validation_asks_one_regime():
    lookup, gateways, _, _ = make({"cnam": found})
    report = await lookup.lookup(query("cnam"))
    assert [r.regime for r in report.results] == ["cnam"]
    assert report.results[0].status is RegimeStatus.FOUND
    assert report.results[0].evaluation.in_force
    assert report.outcome == "complete"
    assert gateways["msa"].calls == []


async def test_unknown_person_is_a_normal_answer():
    lookup, _, _, _ = make({})
    report = await lookup.lookup(query("mgen"))
    assert report.results[0].status is RegimeStatus.UNKNOWN
    assert report.outcome == "complete"


async def test_discovery_asks_every_regime_and_keeps_the_others_when_one_fails():
    lookup, _, _, _ = make(
        {"mgen": found, "msa": raising(RegimeUnavailable), "senat": raising(RegimeRejected)},
        policy=ResiliencePolicy(max_attempts=2),
    )
    report = await lookup.lookup(query(None))
    statuses = {r.regime: r.status for r in report.results}
    assert len(statuses) == 17
    assert statuses["mgen"] is RegimeStatus.FOUND
    assert statuses["msa"] is RegimeStatus.UNAVAILABLE
    assert statuses["senat"] is RegimeStatus.REJECTED
    assert statuses["cnam"] is RegimeStatus.UNKNOWN
    assert report.outcome == "partial"
    assert [r.regime for r in report.found] == ["mgen"]


async def test_discovery_asks_all_regimes_at_once():
    lookup, gateways, _, _ = make({}, delay=0.01, policy=ResiliencePolicy(timeout_s=5))
    await lookup.lookup(query(None))
    assert gateways["cnam"].in_flight.peak == 17


async def test_transient_faults_are_retried_with_backoff():
    lookup, gateways, _, sleeps = make(
        {"cnam": raising(RegimeUnavailable, times=2)}, policy=ResiliencePolicy(backoff_s=0.1)
    )
    result = (await lookup.lookup(query("cnam"))).results[0]
    assert result.status is RegimeStatus.FOUND
    assert result.attempts == 3
    assert sleeps == [0.1, 0.2]
    assert gateways["cnam"].calls == ["cnam"] * 3


async def test_rejections_are_not_retried():
    lookup, gateways, _, sleeps = make({"cnam": raising(RegimeRejected)})
    result = (await lookup.lookup(query("cnam"))).results[0]
    assert result.status is RegimeStatus.REJECTED
    assert result.attempts == 1
    assert "cnam failed" in result.detail
    assert sleeps == []


async def test_retries_stop_at_max_attempts():
    lookup, gateways, _, _ = make(
        {"cnam": raising(RegimeTimeout)}, policy=ResiliencePolicy(max_attempts=3)
    )
    result = (await lookup.lookup(query("cnam"))).results[0]
    assert result.status is RegimeStatus.TIMEOUT
    assert result.attempts == 3


async def test_budget_bounds_a_slow_regime():
    lookup, _, _, _ = make({}, delay=5, policy=ResiliencePolicy(timeout_s=0.05))
    result = (await lookup.lookup(query("cnam"))).results[0]
    assert result.status is RegimeStatus.TIMEOUT
    assert "no answer within 0.05 s" in result.detail


async def test_adapter_bug_becomes_unavailable_without_sinking_others():
    def boom(regime, q):
        raise KeyError("bug")

    lookup, _, _, _ = make({"cnam": boom, "mgen": found})
    report = await lookup.lookup(query(None))
    statuses = {r.regime: r.status for r in report.results}
    assert statuses["cnam"] is RegimeStatus.UNAVAILABLE
    assert statuses["mgen"] is RegimeStatus.FOUND


async def test_cache_hits_within_ttl_and_key_includes_date_of_care():
    lookup, gateways, clock, _ = make({"cnam": found}, policy=ResiliencePolicy(cache_ttl_s=60))
    await lookup.lookup(query("cnam"))
    second = (await lookup.lookup(query("cnam"))).results[0]
    assert second.from_cache
    assert gateways["cnam"].calls == ["cnam"]
    await lookup.lookup(query("cnam", day=date(2026, 1, 1)))
    assert gateways["cnam"].calls == ["cnam", "cnam"]
    clock.advance(61)
    third = (await lookup.lookup(query("cnam"))).results[0]
    assert not third.from_cache
    assert lookup.cache.hits == 1


async def test_cache_is_not_shared_between_requesters():
    lookup, gateways, _, _ = make({"cnam": found}, policy=ResiliencePolicy(cache_ttl_s=60))
    await lookup.lookup(query("cnam"))
    other = replace(query("cnam"), requester=Requester(finess="2A0000014"))
    result = (await lookup.lookup(other)).results[0]
    assert not result.from_cache
    assert gateways["cnam"].calls == ["cnam", "cnam"]


async def test_errors_are_never_cached():
    lookup, gateways, _, _ = make(
        {"cnam": raising(RegimeUnavailable, times=1)},
        policy=ResiliencePolicy(max_attempts=1, cache_ttl_s=60),
    )
    first = (await lookup.lookup(query("cnam"))).results[0]
    second = (await lookup.lookup(query("cnam"))).results[0]
    assert first.status is RegimeStatus.UNAVAILABLE
    assert second.status is RegimeStatus.FOUND and not second.from_cache


async def test_circuit_breaker_opens_then_half_opens_then_closes():
    behaviour = raising(RegimeUnavailable, times=3)
    lookup, gateways, clock, _ = make(
        {"cnam": behaviour},
        policy=ResiliencePolicy(
            max_attempts=1, breaker_failures=3, breaker_reset_s=30, cache_ttl_s=0
        ),
    )
    for _ in range(3):
        await lookup.lookup(query("cnam"))
    assert lookup.breaker_states()["cnam"] is BreakerState.OPEN
    blocked = (await lookup.lookup(query("cnam"))).results[0]
    assert blocked.status is RegimeStatus.UNAVAILABLE
    assert "circuit open" in blocked.detail
    assert len(gateways["cnam"].calls) == 3
    clock.advance(30)
    assert lookup.breaker_states()["cnam"] is BreakerState.HALF_OPEN
    trial = (await lookup.lookup(query("cnam"))).results[0]
    assert trial.status is RegimeStatus.FOUND
    assert lookup.breaker_states()["cnam"] is BreakerState.CLOSED


async def test_a_failed_trial_reopens_the_breaker():
    lookup, _, clock, _ = make(
        {"cnam": raising(RegimeUnavailable)},
        policy=ResiliencePolicy(max_attempts=1, breaker_failures=1, breaker_reset_s=10),
    )
    await lookup.lookup(query("cnam"))
    clock.advance(10)
    await lookup.lookup(query("cnam"))
    assert lookup.breaker_states()["cnam"] is BreakerState.OPEN


async def test_a_cancelled_trial_does_not_wedge_the_breaker():
    lookup, gateways, clock, _ = make(
        {"cnam": raising(RegimeUnavailable, times=1)},
        policy=ResiliencePolicy(max_attempts=1, breaker_failures=1, breaker_reset_s=10),
    )
    await lookup.lookup(query("cnam"))
    clock.advance(10)
    gateways["cnam"].delay = 60
    trial = asyncio.create_task(lookup.lookup(query("cnam")))
    while not gateways["cnam"].in_flight.now:
        await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    gateways["cnam"].delay = 0
    retried = (await lookup.lookup(query("cnam"))).results[0]
    assert retried.status is RegimeStatus.FOUND
    assert lookup.breaker_states()["cnam"] is BreakerState.CLOSED


def test_every_regime_needs_a_gateway():
    gateways = {r.code: FakeGateway(r.family, {}) for r in CATALOGUE if r.code != "senat"}
    with pytest.raises(ConfigError, match="senat"):
        RightsLookup(CATALOGUE, gateways, FakeClock())
