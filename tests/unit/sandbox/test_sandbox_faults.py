from __future__ import annotations

import asyncio
import math

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rights.errors import ConfigError, InputError, UnknownRegimeError
from sandbox import faults as faults_module
from sandbox.faults import (
    FAULT_HEADER,
    FaultBook,
    FaultKind,
    FaultMiddleware,
    FaultSettings,
)

CODES = ("cnam", "msa", "senat")


# --- settings


def test_defaults_inject_nothing():
    settings = FaultSettings()
    assert settings.to_json() == {
        "latency_ms": 0,
        "error_rate": 0,
        "timeout_rate": 0,
        "hang_s": 30,
        "down": False,
    }


def test_partial_update_keeps_the_other_fields():
    settings = FaultSettings(latency_ms=5).updated({"error_rate": 0.25, "down": True})
    assert settings == FaultSettings(latency_ms=5, error_rate=0.25, down=True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latency": 3}, "latency"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"timeout_rate": -0.1}, "timeout_rate"),
        ({"hang_s": math.inf}, "hang_s"),
        ({"latency_ms": math.nan}, "latency_ms"),
        ({"latency_ms": "10"}, "latency_ms"),
        ({"latency_ms": True}, "latency_ms"),
        ({"down": "yes"}, "down"),
        ({"down": 1}, "down"),
        ({"error_rate": 0.6, "timeout_rate": 0.6}, "error_rate"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else "-".join(map(str, v)),
)
def test_bad_settings_name_the_field(changes, field):
    with pytest.raises(InputError) as caught:
        FaultSettings().updated(changes)
    assert caught.value.location == field


# --- the book


def test_star_applies_to_every_regime_and_a_named_regime_refines_it():
    book = FaultBook(CODES, settings={"msa": {"down": True}, "*": {"latency_ms": 7}})
    assert book.get("cnam") == FaultSettings(latency_ms=7)
    assert book.get("msa") == FaultSettings(latency_ms=7, down=True)


def test_from_config_reads_the_settings_mapping():
    book = FaultBook.from_config({"*": {"hang_s": 1}}, CODES, seed=3)
    assert book.codes == CODES and book.get("senat").hang_s == 1


@pytest.mark.parametrize(
    "settings",
    [{"cnam": {"error_rate": 2}}, {"nope": {}}, {"*": {"colour": "red"}}],
    ids=["bad-value", "unknown-regime", "unknown-field"],
)
def test_bad_start_settings_are_a_config_error(settings):
    with pytest.raises(ConfigError):
        FaultBook(CODES, settings=settings)


def test_run_time_update_reset_and_unknown_regime():
    book = FaultBook(CODES)
    changed = book.update("*", {"error_rate": 0.5})
    assert set(changed) == set(CODES)
    book.update("senat", {"down": True})
    assert book.get("senat") == FaultSettings(error_rate=0.5, down=True)
    with pytest.raises(UnknownRegimeError) as caught:
        book.update("cpam", {"down": True})
    assert caught.value.valid_codes == CODES
    book.reset()
    assert all(s == FaultSettings() for s in book.snapshot().values())
    assert book.to_json()["msa"]["hang_s"] == 30


def test_a_failed_star_update_changes_nothing():
    book = FaultBook(CODES)
    with pytest.raises(InputError):
        book.update("*", {"error_rate": 0.5, "hang_s": -1})
    assert book.get("cnam") == FaultSettings()


def test_draws_are_seeded_and_follow_the_rates():
    settings = FaultSettings(error_rate=0.3, timeout_rate=0.2)
    book_a, book_b = FaultBook(CODES, seed=9), FaultBook(CODES, seed=9)
    draws = [book_a.draw(settings) for _ in range(2000)]
    assert draws == [book_b.draw(settings) for _ in range(2000)]
    assert draws != [FaultBook(CODES, seed=10).draw(settings) for _ in range(2000)]
    assert 0.25 < draws.count(FaultKind.ERROR) / 2000 < 0.35
    assert 0.15 < draws.count(FaultKind.TIMEOUT) / 2000 < 0.25
    assert FaultBook(CODES).draw(FaultSettings()) is FaultKind.NONE
    assert FaultBook(CODES).draw(FaultSettings(down=True)) is FaultKind.DOWN


# --- the middleware on a tiny app


async def _rights(request: Request) -> JSONResponse:
    return JSONResponse({"regime": request.path_params["code"]})


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "up"})


def _client(book: FaultBook, **options) -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/regimes/{code}/health", _health),
            Route("/regimes/{code}/rights", _rights, methods=["GET", "POST"]),
            Route("/elsewhere", _health),
        ],
        middleware=[Middleware(FaultMiddleware, book=book, **options)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def test_no_fault_passes_through():
    async with _client(FaultBook(CODES)) as client:
        response = await client.get("/regimes/cnam/rights")
    assert response.status_code == 200 and response.json() == {"regime": "cnam"}


async def test_down_regime_answers_503_even_to_health():
    book = FaultBook(CODES, settings={"msa": {"down": True}})
    async with _client(book) as client:
        rights = await client.post("/regimes/msa/rights", json={"nir": "x"})
        health = await client.get("/regimes/msa/health")
        other = await client.get("/regimes/cnam/rights")
        outside = await client.get("/elsewhere")
    assert rights.status_code == 503 and health.status_code == 503
    assert rights.headers[FAULT_HEADER] == "down" and rights.json()["regime"] == "msa"
    assert other.status_code == 200 and outside.status_code == 200


async def test_errors_hit_requests_but_not_health():
    book = FaultBook(CODES, settings={"cnam": {"error_rate": 1}})
    async with _client(book) as client:
        rights = await client.get("/regimes/cnam/rights")
        health = await client.get("/regimes/cnam/health")
    assert rights.status_code == 500 and rights.json()["fault"] == "error"
    assert health.status_code == 200


async def test_timeouts_hang_then_answer_504():
    book = FaultBook(CODES, settings={"senat": {"timeout_rate": 1, "hang_s": 0.05}})
    async with _client(book) as client:
        response = await client.get("/regimes/senat/rights")
    assert response.status_code == 504 and response.headers[FAULT_HEADER] == "timeout"


async def test_latency_sleeps_before_handling():
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    book = FaultBook(CODES, settings={"cnam": {"latency_ms": 250}})
    async with _client(book, sleep=fake_sleep) as client:
        response = await client.get("/regimes/cnam/rights")
        health = await client.get("/regimes/cnam/health")
    assert response.status_code == 200 and health.status_code == 200
    assert slept == [0.25]


async def test_unknown_regime_paths_are_left_to_the_app():
    book = FaultBook(CODES, settings={"*": {"down": True}})
    async with _client(book) as client:
        response = await client.get("/regimes/cpam/rights")
    assert response.status_code == 200


async def test_a_hang_ends_when_the_client_goes_away():
    async def receive():
        return {"type": "http.disconnect"}

    assert await faults_module._hang(30, receive) is True


async def test_a_hang_lasts_its_time_when_the_client_stays():
    never = asyncio.Event()

    async def receive():
        await never.wait()
        return {"type": "http.disconnect"}

    assert await faults_module._hang(0.01, receive) is False
