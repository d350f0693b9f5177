"""Every ``CDR_*`` setting is checked before a command starts: a bad value is one line naming
the variable and what it expects, and exit 2 (issue 18, item 9)."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest

from cdr.cli import main
from cdr.settings import Settings

# A value no setting of that kind accepts, found from the field's type: a setting added later
# is covered without a line here.
_BAD_BY_TYPE: dict[type, str] = {
    int: "not-a-number",
    float: "not-a-number",
    bool: "maybe",
    str: "bad\x01value",
    Path: "bad\x01value",
}


def _bad_value(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "no-such-choice"
    if origin in (list, dict):
        return "{not json"
    if origin in (typing.Union, types.UnionType):
        (kind,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _bad_value(kind)
    return _BAD_BY_TYPE[annotation]


def _run(monkeypatch, tmp_path, capsys, env: dict[str, str]) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)  # no .env file of the developer's
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["sandbox", "list", "--json"])
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_a_bad_value_of_any_setting_is_one_line_naming_it(field, monkeypatch, tmp_path, capsys):
    variable = f"CDR_{field.upper()}"
    bad = _bad_value(Settings.model_fields[field].annotation)
    code, err = _run(monkeypatch, tmp_path, capsys, {variable: bad})
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"cdr: configuration error: {variable}: ")


@pytest.mark.parametrize(
    ("variable", "value", "expects"),
    [
        ("CDR_HL7_DESTINATIONS", "127.0.0.1:6661", "expected a JSON list"),
        ("CDR_HL7_DESTINATIONS", '["127.0.0.1:99999"]', "host:port (port 1-65535)"),
        ("CDR_HL7_DESTINATIONS", '["receiver"]', "host:port"),
        ("CDR_HL7_DESTINATIONS", '["http://"]', "not a URL with a host"),
        ("CDR_SANDBOX_FAULTS", "{msa: 1}", "expected a JSON object"),
        ("CDR_SANDBOX_FAULTS", '{"msa": {"down": "yes"}}', "down must be true or false"),
        ("CDR_SANDBOX_FAULTS", '{"nope": {"down": true}}', "nope"),
        ("CDR_TIMEZONE", "Europe/Pariss", "IANA time zone"),
        ("CDR_REQUESTER_FINESS", "12345", "expected a FINESS"),
        ("CDR_REQUESTER_FINESS", "750712185", "check digit"),
        ("CDR_STRUCTURE_FINESS", "750100019", "check digit"),
        ("CDR_STRUCTURE_CATEGORY", "35", "pattern"),
        ("CDR_STRUCTURE_SIGN_CERT_FILE", __file__, "go together"),
        ("CDR_SANDBOX_REQUIRE_ASSERTIONS", "1", "needs CDR_SANDBOX_TLS_CLIENT_CA_FILE"),
        ("CDR_SANDBOX_CRL_FILES", '["no-such.crl.pem"]', "no such file"),
        ("CDR_MLLP_ALLOWED_PEERS", '["10.1.2.0/33"]', "not an IP address or network"),
        ("CDR_HL7_APPLICATION", "CDR|GW", "HL7 delimiters"),
        ("CDR_HTTP_HOST", "http://localhost", "host name or IP address"),
        ("CDR_REGIMES_URL", "localhost:8090", "http:// or https:// URL"),
        ("CDR_DATABASE_URL", "not a url", "SQLAlchemy URL"),
        ("CDR_HTTP_PORT", "65536", "65535"),
        ("CDR_REGIMES_CA_FILE", "no-such-ca.pem", "no such file"),
        ("CDR_REGIMES_CLIENT_KEY_FILE", __file__, "without CDR_REGIMES_CLIENT_CERT"),
        ("CDR_REGIME_ENDPOINTS", '{"nope": {"url": "https://x"}}', "not a regime code"),
        ("CDR_REGIME_ENDPOINTS", '{"msa": {"url": "msa:8443"}}', "http:// or https:// URL"),
        ("CDR_REGIME_ENDPOINTS", '{"msa": {"ca_file": "no-such.pem"}}', "no such file"),
        ("CDR_REGIME_ENDPOINTS", '{"msa": {"client_key_file": "k"}}', "no such file"),
        ("CDR_REGIME_ENDPOINTS", '{"msa": {"port": 1}}', "port"),
        ("CDR_AUTH_TOKEN_LIFETIME_S", "3600", "less than or equal to 300"),
        ("CDR_AUTH_TOKEN_KEY_FILE", "no-such-key.pem", "no such file"),
        ("CDR_AUTH_EXTERNAL_JWKS_URL", "as.example/jwks", "http:// or https:// URL"),
        ("CDR_AUTH_EXTERNAL_ISSUER", "https://as.example", "go together"),
        ("CDR_AUTH_EXTERNAL_AUDIENCE", "https://gw.example/fhir", "without"),
        ("CDR_RETENTION_DAYS", "0", "greater than or equal to 1"),
        ("CDR_RETENTION_DAYS", "1.5", "valid integer"),
        ("CDR_PURGE_INTERVAL_S", "-1", "greater than or equal to 0"),
        ("CDR_HTTP_TLS_CERT_FILE", "no-such-cert.pem", "no such file"),
        ("CDR_HTTP_TLS_KEY_FILE", __file__, "set without CDR_HTTP_TLS_CERT_FILE"),
        ("CDR_HTTP_TLS_CLIENT_CA_FILE", __file__, "set without CDR_HTTP_TLS_CERT_FILE"),
        ("CDR_HTTP_TLS_CLIENT_CA_FILE", "no-such-ca.pem", "no such file"),
    ],
)
def test_values_of_the_wrong_shape_are_refused(
    variable, value, expects, monkeypatch, tmp_path, capsys
):
    code, err = _run(monkeypatch, tmp_path, capsys, {variable: value})
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(f"cdr: configuration error: {variable}")
    assert expects in err[0]


def test_a_database_password_is_never_echoed(monkeypatch, tmp_path, capsys):
    code, err = _run(monkeypatch, tmp_path, capsys, {"CDR_DATABASE_URL": "pg://u:s3cret@h/\x01"})
    assert code == 2
    assert "s3cret" not in "\n".join(err)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CDR_HL7_DESTINATIONS", '["127.0.0.1:6661", "[::1]:6662", "https://ehr.example/fhir"]'),
        ("CDR_SANDBOX_FAULTS", '{"*": {"latency_ms": 5}, "msa": {"down": true}}'),
        ("CDR_HTTP_HOST", "::"),
        ("CDR_LOG_LEVEL", "DEBUG"),
        ("CDR_TIMEZONE", "America/Cayenne"),
        ("CDR_REGIME_ENDPOINTS", '{"msa": {"url": "https://msa.example:8443/cdr"}}'),
    ],
)
def test_good_values_pass(variable, value, monkeypatch, tmp_path, capsys):
    code, err = _run(monkeypatch, tmp_path, capsys, {variable: value})
    assert (code, err) == (0, [])


def test_a_bad_option_is_named_as_the_option(capsys):
    assert main(["serve", "--http-port", "99999"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("cdr: configuration error: --http-port: ")
