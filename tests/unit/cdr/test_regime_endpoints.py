"""Each regime's endpoint as the composition root builds it from the settings: a default for
all regimes (URL, CA, client certificate and key), overrides per regime (CDR_REGIME_ENDPOINTS),
the identity of the certificate presented."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cdr.regime_wiring import regime_endpoints
from cdr.settings import Settings
from regimes.endpoints import ANONYMOUS
from rights.catalogue import default_catalogue
from rights.errors import ConfigError
from tests.tls import Pki, make_pki

CATALOGUE = default_catalogue()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def fingerprint(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_by_default_every_regime_asks_the_embedded_sandbox_anonymously():
    endpoints = regime_endpoints(settings(), CATALOGUE)
    assert list(endpoints) == list(CATALOGUE.codes)
    assert {e.url for e in endpoints.values()} == {"http://127.0.0.1:8090"}
    assert {e.identity for e in endpoints.values()} == {ANONYMOUS}
    # One TLS context for all: building one costs milliseconds.
    assert len({id(e.ssl_context) for e in endpoints.values()}) == 1


def test_the_defaults_for_all_apply_to_every_regime(pki: Pki):
    endpoints = regime_endpoints(
        settings(
            regimes_url="https://regimes.example:8443/cdr/",
            regimes_ca_file=pki.ca,
            regimes_client_cert_file=pki.client_cert,
            regimes_client_key_file=pki.client_key,
        ),
        CATALOGUE,
    )
    assert {e.url for e in endpoints.values()} == {"https://regimes.example:8443/cdr"}
    assert {e.identity for e in endpoints.values()} == {fingerprint(pki.client_cert)}
    assert len({id(e.ssl_context) for e in endpoints.values()}) == 1


def test_a_regime_may_have_its_own_url_ca_and_certificate(pki: Pki):
    endpoints = regime_endpoints(
        settings(
            regimes_client_cert_file=pki.client_cert,
            regimes_client_key_file=pki.client_key,
            regime_endpoints={
                "msa": {
                    "url": "https://msa.example:9443/",
                    "ca_file": str(pki.ca),
                    "client_cert_file": str(pki.other_client_cert),
                    "client_key_file": str(pki.other_client_key),
                },
                "mgen": {"url": "https://mgen.example"},
            },
        ),
        CATALOGUE,
    )
    msa, mgen, cnam = endpoints["msa"], endpoints["mgen"], endpoints["cnam"]
    assert (msa.url, msa.identity) == (
        "https://msa.example:9443",
        fingerprint(pki.other_client_cert),
    )
    # Only the URL overridden: the default certificate, with the default key.
    assert (mgen.url, mgen.identity) == ("https://mgen.example", fingerprint(pki.client_cert))
    assert (cnam.url, cnam.identity) == ("http://127.0.0.1:8090", fingerprint(pki.client_cert))
    assert mgen.ssl_context is cnam.ssl_context
    assert msa.ssl_context is not cnam.ssl_context


def test_the_overrides_are_read_from_the_environment(pki: Pki, monkeypatch):
    monkeypatch.setenv(
        "CDR_REGIME_ENDPOINTS",
        f'{{"cnam": {{"url": "https://cnam.example", "client_cert_file": "{pki.client_cert}",'
        f' "client_key_file": "{pki.client_key}"}}}}',
    )
    endpoints = regime_endpoints(settings(), CATALOGUE)
    assert endpoints["cnam"].url == "https://cnam.example"
    assert endpoints["cnam"].identity == fingerprint(pki.client_cert)
    assert endpoints["msa"].identity == ANONYMOUS


def test_a_key_that_does_not_match_its_certificate_is_refused_at_start(pki: Pki):
    with pytest.raises(ConfigError, match="cannot use the TLS files"):
        regime_endpoints(
            settings(
                regimes_client_cert_file=pki.client_cert,
                regimes_client_key_file=pki.other_client_key,
            ),
            CATALOGUE,
        )
