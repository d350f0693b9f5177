"""DESIGN §9 / issue 14 item 3: with authentication off, listeners stay on loopback unless
CDR_ALLOW_OPEN says the exposure is meant; with it on, the FHIR API may be open, and what
authenticates nobody (the MLLP listener without an allow-list, the sandbox) may not."""

from __future__ import annotations

import pytest

from cdr.exposure import check_exposure, is_loopback
from cdr.settings import Settings
from rights.errors import ConfigError


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("gateway.hopital.example", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_default_is_loopback_and_says_authentication_is_off() -> None:
    assert "loopback only" in check_exposure(settings())


@pytest.mark.parametrize("field", ["http_host", "mllp_host", "sandbox_host"])
def test_any_open_listener_refuses_to_start(field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_exposure(settings(**{field: "0.0.0.0"}))
    assert f"CDR_{field.upper()}=0.0.0.0" in refused.value.message
    assert "CDR_ALLOW_OPEN=1" in refused.value.message


def test_allow_open_lets_it_start_and_says_so() -> None:
    line = check_exposure(settings(host="0.0.0.0", allow_open=True))
    assert "CDR_HTTP_HOST=0.0.0.0" in line and "CDR_ALLOW_OPEN=1" in line


def test_an_external_regime_service_leaves_the_sandbox_host_aside() -> None:
    line = check_exposure(settings(sandbox_host="0.0.0.0", regimes_url="https://cdr.example"))
    assert "loopback only" in line


def test_auth_on_lets_the_api_listen_on_the_network() -> None:
    line = check_exposure(settings(auth="on", http_host="0.0.0.0"))
    assert line.startswith("authentication is on")


def test_auth_on_still_refuses_an_mllp_listener_open_to_any_peer() -> None:
    with pytest.raises(ConfigError) as refused:
        check_exposure(settings(auth="on", host="0.0.0.0"))
    assert "CDR_MLLP_HOST=0.0.0.0" in refused.value.message
    assert "CDR_MLLP_ALLOWED_PEERS" in refused.value.message
    named = settings(auth="on", host="0.0.0.0", mllp_allowed_peers=["10.1.2.0/24"])
    assert check_exposure(named).startswith("authentication is on")
    opened = check_exposure(settings(auth="on", host="0.0.0.0", allow_open=True))
    assert "CDR_ALLOW_OPEN=1" in opened


def test_auth_on_keeps_the_sandbox_on_loopback() -> None:
    with pytest.raises(ConfigError) as refused:
        check_exposure(settings(auth="on", sandbox_host="0.0.0.0"))
    assert "CDR_SANDBOX_HOST=0.0.0.0" in refused.value.message
