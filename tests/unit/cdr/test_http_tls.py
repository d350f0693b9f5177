"""HTTPS for the API (``CDR_HTTP_TLS_*``): the TLS context, what uvicorn is given (it must
pickle, for ``--workers N``), the protocol chosen, and the base URLs that follow."""

from __future__ import annotations

import pickle
import ssl
from pathlib import Path

import pytest

from cdr.http_guard import GuardedHttpProtocol, HttpLimits
from cdr.http_tls import HttpTls, TlsGuardedHttpProtocol, api_protocol, http_tls
from cdr.settings import Settings
from rights.errors import ConfigError
from tests.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg, arg-type]


def test_without_a_certificate_the_api_is_plain_http(tmp_path: Path) -> None:
    plain = settings(tmp_path, http_port=8080)
    assert http_tls(plain) is None
    assert plain.effective_fhir_base_url == "http://127.0.0.1:8080/fhir"
    assert api_protocol(HttpLimits(), tls=False).func is GuardedHttpProtocol


def test_with_a_certificate_the_base_and_token_urls_are_https(tmp_path: Path, pki: Pki) -> None:
    secure = settings(
        tmp_path,
        http_port=8443,
        http_tls_cert_file=pki.server_cert,
        http_tls_key_file=pki.server_key,
    )
    assert secure.effective_fhir_base_url == "https://127.0.0.1:8443/fhir"
    assert secure.effective_token_url == "https://127.0.0.1:8443/auth/token"
    # A public base URL given by the operator is kept as given.
    public = secure.model_copy(update={"fhir_base_url": "https://cdr.chu.example/fhir"})
    assert public.effective_fhir_base_url == "https://cdr.chu.example/fhir"
    assert api_protocol(HttpLimits(), tls=True).func is TlsGuardedHttpProtocol


def test_the_context_is_tls_1_2_at_least_and_asks_a_client_certificate(pki: Pki) -> None:
    server_only = HttpTls(pki.server_cert, pki.server_key).context()
    assert server_only.minimum_version == ssl.TLSVersion.TLSv1_2
    assert server_only.verify_mode == ssl.CERT_NONE
    mutual = HttpTls(pki.server_cert, pki.server_key, pki.ca)
    # Asked, not required: token clients without a certificate still connect.
    assert mutual.context().verify_mode == ssl.CERT_OPTIONAL
    assert mutual.description == "https, client certificates accepted"
    assert HttpTls(pki.server_cert, pki.server_key).description == "https"


def test_the_uvicorn_options_pickle_for_worker_processes(pki: Pki) -> None:
    options = HttpTls(pki.server_cert, pki.server_key, pki.ca).uvicorn_options()
    factory = pickle.loads(pickle.dumps(options["ssl_context_factory"]))
    context = factory(None, None)
    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert pickle.loads(pickle.dumps(api_protocol(HttpLimits(), tls=True))).keywords == {
        "limits": HttpLimits()
    }


def test_files_that_cannot_be_used_are_a_configuration_error(pki: Pki) -> None:
    # A certificate with another's key: the files exist, the pair does not match.
    with pytest.raises(ConfigError) as raised:
        HttpTls(pki.server_cert, pki.client_key).context()
    assert raised.value.message.startswith("CDR_HTTP_TLS_CERT_FILE / CDR_HTTP_TLS_KEY_FILE")
    with pytest.raises(ConfigError):
        HttpTls(pki.server_cert, pki.server_key, pki.server_key).context()  # no CA in it
