"""The demo's security (cdr.demo_security): applied to the embedded sandbox only, never over a
site's own regimes or certificates; the PKI made by the servers, found by every other command
through the data directory, and made again for another structure."""

from __future__ import annotations

import json
from pathlib import Path

from cdr.demo_security import demo_card, with_demo_security
from cdr.settings import Settings


def _settings(data: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=data, **values)  # type: ignore[call-arg, arg-type]


def test_the_servers_make_the_pki_and_the_other_commands_find_it(tmp_path: Path) -> None:
    plain = _settings(tmp_path)
    assert with_demo_security(plain, create=False) == plain  # nothing made yet: untouched
    served = with_demo_security(plain, create=True)
    assert served.sandbox_scheme == "https" and served.sandbox_require_assertions
    assert served.regimes_client_cert_file == tmp_path / "pki/structure/org-auth-cli.pem"
    assert served.structure_sign_key_file is not None and served.structure_sign_key_file.is_file()
    found = with_demo_security(_settings(tmp_path), create=False)
    assert found.regimes_client_cert_file == served.regimes_client_cert_file
    assert found.effective_regimes_url.startswith("https://")


def test_a_site_s_own_regimes_or_certificates_are_never_touched(tmp_path: Path) -> None:
    with_demo_security(_settings(tmp_path), create=True)
    remote = _settings(tmp_path, regimes_url="https://regimes.example")
    assert with_demo_security(remote, create=True) == remote
    own = _settings(tmp_path, regimes_client_cert_file=tmp_path / "pki/ca/root.pem")
    assert with_demo_security(own, create=False) == own
    off = _settings(tmp_path, demo_security="off")
    assert with_demo_security(off, create=True) == off and demo_card(off) is None


def test_another_structure_gets_its_own_pki(tmp_path: Path) -> None:
    with_demo_security(_settings(tmp_path), create=True)
    other = _settings(tmp_path, requester_finess="690100029")
    assert with_demo_security(other, create=False) == other  # made for 750100018: not used
    with_demo_security(other, create=True)
    manifest = json.loads((tmp_path / "pki/manifest.json").read_text(encoding="utf-8"))
    assert manifest["structure"]["finess"] == "690100029"


def test_the_demo_card_is_the_medecin_unless_told(tmp_path: Path) -> None:
    card = demo_card(_settings(tmp_path))
    assert card is not None and card.pin == "1234"
    assert "CLAIRE MEDECIN-TEST" in card.describe()
    nurse = demo_card(_settings(tmp_path, demo_card="infirmier"))
    assert nurse is not None and "Infirmier" in nurse.describe()
    assert demo_card(_settings(tmp_path, demo_card="off")) is None
