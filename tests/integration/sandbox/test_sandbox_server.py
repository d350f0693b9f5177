from __future__ import annotations

from datetime import date

import httpx
import pytest

from rights.catalogue import default_catalogue
from rights.errors import ConfigError
from sandbox.app import create_app
from sandbox.faults import FaultBook
from sandbox.population import build_population
from sandbox.server import start_in_thread

CATALOGUE = default_catalogue()


@pytest.fixture(scope="module")
def app():
    population = build_population(CATALOGUE, seed=5, today=date(2026, 11, 24), per_regime=2)
    return create_app(CATALOGUE, population, FaultBook(CATALOGUE.codes), families={})


def test_the_sandbox_answers_over_a_real_socket(app):
    with start_in_thread(app) as running:
        assert running.port > 0 and running.url == f"http://127.0.0.1:{running.port}"
        with httpx.Client(base_url=running.url, timeout=5) as client:
            health = client.get("/health")
            put = client.put("/admin/faults/enim", json={"down": True})
            faults = client.get("/admin/faults")
            enim = client.get("/regimes/enim/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "regimes": 17}
    assert put.status_code == 200
    assert faults.status_code == 200 and faults.json()["enim"]["down"] is True
    assert enim.status_code == 503
    assert not running.thread.is_alive()


def test_stop_closes_the_port(app):
    running = start_in_thread(app)
    url = running.url
    running.stop()
    running.stop()  # idempotent
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=2) as client:
        client.get(f"{url}/health")


def test_a_port_in_use_is_a_config_error(app):
    with start_in_thread(app) as first, pytest.raises(ConfigError):
        start_in_thread(app, port=first.port)
