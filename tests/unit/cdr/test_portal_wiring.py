"""The portal's wiring: its session key (made once, owner-only, shared by the workers) and the
Pro Santé Connect it logs in with by default."""

from __future__ import annotations

import stat

import pytest

from cdr.portal_wiring import load_or_create_session_key
from cdr.settings import Settings
from rights.errors import ConfigError


def test_the_session_key_is_made_once_for_the_owner_only(tmp_path):
    path = tmp_path / "portal-session.key"
    key = load_or_create_session_key(path)
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_session_key(path) == key  # the next start, or another worker


def test_a_short_session_key_is_refused(tmp_path):
    path = tmp_path / "portal-session.key"
    path.write_text("too short", encoding="ascii")
    with pytest.raises(ConfigError, match="too short"):
        load_or_create_session_key(path)


def test_the_default_psc_is_the_sandbox_look_alike_on_its_own_port(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, sandbox_psc_port=8091)  # type: ignore[call-arg]
    assert settings.effective_psc_issuer == "http://127.0.0.1:8091"
    assert settings.effective_portal_session_key_file == tmp_path / "portal-session.key"
    real = settings.model_copy(update={"portal_psc_issuer": "https://psc.example/realm/"})
    assert real.effective_psc_issuer == "https://psc.example/realm"
