"""DESIGN §9: listeners bind loopback unless `--host` / `CDR_HOST` says otherwise."""

from __future__ import annotations

import pytest

from cdr.cli import _parser
from cdr.settings import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDR_HOST", "CDR_HTTP_HOST", "CDR_MLLP_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_listeners_bind_loopback_by_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.http_host, settings.mllp_host) == ("127.0.0.1", "127.0.0.1")


def test_cdr_host_moves_both_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDR_HOST", "0.0.0.0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.http_host, settings.mllp_host) == ("0.0.0.0", "0.0.0.0")
    assert settings.effective_fhir_base_url == "http://0.0.0.0:8080/fhir"


def test_a_listener_of_its_own_keeps_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDR_HOST", "10.1.2.3")
    monkeypatch.setenv("CDR_MLLP_HOST", "127.0.0.1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.http_host, settings.mllp_host) == ("10.1.2.3", "127.0.0.1")


def test_serve_takes_host_on_the_command_line() -> None:
    args = _parser().parse_args(["serve", "--host", "::1", "--http-port", "0"])
    settings = Settings(_env_file=None, host=args.host)  # type: ignore[call-arg]
    assert (settings.http_host, settings.mllp_host) == ("::1", "::1")
