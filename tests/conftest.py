"""Fixtures shared by the integration and end-to-end tests: a real sandbox on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis
import pytest

from cdr.bootstrap import Gateway, build_gateway, build_sandbox
from cdr.clock import SystemClock
from cdr.settings import Settings
from sandbox.server import RunningServer, start_in_thread

# Hypothesis's per-example deadline is a timing assertion: on a loaded 2-core machine an example
# can take longer than 200 ms and fail a test whose behaviour is right. Tests assert behaviour only.
hypothesis.settings.register_profile("cdr", deadline=None)
hypothesis.settings.load_profile("cdr")


def gateway_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "regimes_url": url,
        "data_dir": data_dir,
        "regime_timeout_s": 5.0,
        "regime_backoff_s": 0.01,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningServer]:
    """The embedded regime sandbox over a real socket, built exactly as `cdr serve` builds it."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    server = start_in_thread(build_sandbox(settings, today=SystemClock().today()))
    yield server
    server.stop()


@pytest.fixture
async def gateway(sandbox: RunningServer, tmp_path: Path) -> AsyncIterator[Gateway]:
    built = build_gateway(gateway_settings(sandbox.url, tmp_path))
    yield built
    await built.aclose()
