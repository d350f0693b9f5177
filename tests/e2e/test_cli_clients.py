"""`cdr clients add | list | remove | keygen` (DESIGN §9) on a real database, and the whole
SMART flow against a real `cdr serve` process with CDR_AUTH=on: register a client, get a token
with `cdr clients token`, submit with it; without it, 401."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cdr.cli import main
from cdr.storage import Database
from fhir_server.auth import certificate_thumbprint
from tests.e2e.test_fhir_api import cer_for, first
from tests.e2e.test_serve import _free_port, _wait_ready, interrupt
from tests.tls import Pki, make_pki

FIXTURES = Path(__file__).parents[1] / "fixtures" / "auth"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()  # as `cdr serve` or `cdr db upgrade` leave it
    database.dispose()
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_clients_are_added_listed_and_removed(data_dir: Path, capsys) -> None:
    jwks = str(FIXTURES / "client-es384.jwks.json")
    scopes = ["system/CoverageEligibilityRequest.c", "system/*.rs"]
    code, out, _ = run(capsys, "clients", "add", "lab", "--jwks", jwks, "--scope", *scopes)
    assert code == 0 and "client lab registered" in out
    url = "https://keys.lab.example/jwks.json"
    assert (
        run(capsys, "clients", "add", "remote", "--jwks", url, "--scope", "system/Coverage.rs")[0]
        == 0
    )
    code, out, _ = run(capsys, "clients", "list", "--json")
    listed = json.loads(out)
    assert [c["name"] for c in listed] == ["lab", "remote"]
    assert listed[0]["scopes"] == scopes and listed[0]["jwks"]["keys"][0]["crv"] == "P-384"
    assert listed[1]["jwks_url"] == url and listed[1]["jwks"] is None
    code, out, _ = run(capsys, "clients", "list")
    assert "lab" in out and "2 client(s)" in out
    assert run(capsys, "clients", "remove", "lab")[0] == 0
    code, _, err = run(capsys, "clients", "remove", "lab")
    assert code == 1 and err == ["cdr: error: no client named 'lab' is registered"]


@pytest.mark.parametrize(
    ("argv", "expects"),
    [
        (["--jwks", "no-such.json"], "cdr: error: --jwks: cannot read no-such.json"),
        (["--jwks", str(FIXTURES / "not-a-jwks.json")], 'no "keys" list'),
        (["--jwks", str(FIXTURES / "client-private.jwks.json")], "holds a private key"),
        (["--jwks", str(FIXTURES / "client-p256.jwks.json")], "no key signs RS384 or ES384"),
        (["--scope", "patient/*.read"], "cdr: error: --scope: 'patient/*.read' is not a SMART"),
        (["--scope", "system/Observation.rs"], "--scope: 'system/Observation.rs': Observation"),
    ],
    ids=["no-file", "not-jwks", "private", "p256", "patient-scope", "unserved-type"],
)
def test_a_bad_jwks_or_scope_is_one_line_and_exit_2(
    data_dir: Path, capsys, argv: list[str], expects: str
) -> None:
    given = {"--jwks": str(FIXTURES / "client-es384.jwks.json"), "--scope": "system/*.rs"}
    given.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    code, _, err = run(capsys, "clients", "add", "lab", *[x for kv in given.items() for x in kv])
    assert code == 2
    assert len(err) == 1 and expects in err[0], err


def test_a_name_registered_twice_is_refused(data_dir: Path, capsys) -> None:
    add = ["clients", "add", "lab", "--jwks", str(FIXTURES / "client-es384.jwks.json")]
    assert run(capsys, *add, "--scope", "system/*.rs")[0] == 0
    code, _, err = run(capsys, *add, "--scope", "system/*.rs")
    assert code == 2 and "registered already" in err[0]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_client_is_registered_by_its_certificate(data_dir: Path, capsys, pki: Pki) -> None:
    add = ["clients", "add", "his", "--certificate", str(pki.client_cert)]
    code, out, _ = run(capsys, *add, "--scope", "system/CoverageEligibilityRequest.c")
    assert code == 0 and "client his registered" in out and "certificate: CN=750712184" in out
    jwks = str(FIXTURES / "client-es384.jwks.json")
    both = ["--certificate", str(pki.other_client_cert), "--jwks", jwks]
    assert run(capsys, "clients", "add", "lab", *both, "--scope", "system/*.rs")[0] == 0
    code, out, _ = run(capsys, "clients", "list", "--json")
    his, lab = json.loads(out)  # by name
    der = ssl.PEM_cert_to_DER_cert(pki.client_cert.read_text(encoding="ascii"))
    thumbprint = certificate_thumbprint(der)
    assert his["certificate"] == {"x5t#S256": thumbprint, "subject": "CN=750712184"}
    assert his["jwks"] is None and his["jwks_url"] is None
    assert lab["certificate"]["subject"] == "CN=2A0000014" and lab["jwks"]["keys"]
    code, out, _ = run(capsys, "clients", "list")
    assert "CN=750712184" in out and "2 client(s)" in out
    # One client per certificate.
    code, _, err = run(capsys, "clients", "add", "again", *add[3:], "--scope", "system/*.rs")
    assert code == 2 and err == [
        "cdr: error: --certificate: this certificate is registered already, for client 'his'"
    ]


@pytest.mark.parametrize(
    ("which", "expects"),
    [
        ("missing", "--certificate: cannot read"),
        ("jwks", "is not an X.509 certificate (PEM or DER)"),
        ("key", "holds a private key: register the certificate only"),
        ("ca", "is a CA certificate"),
        ("server", "does not allow TLS client authentication"),
    ],
)
def test_a_bad_certificate_file_is_one_line_and_exit_2(
    data_dir: Path, capsys, pki: Pki, which: str, expects: str
) -> None:
    path = {
        "missing": data_dir / "no-such.pem",
        "jwks": FIXTURES / "client-es384.jwks.json",
        "key": pki.client_key,
        "ca": pki.ca,
        "server": pki.server_cert,
    }[which]
    argv = ["clients", "add", "his", "--certificate", str(path), "--scope", "system/*.rs"]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err) == 1 and err[0].startswith("cdr: error: --certificate: ") and expects in err[0]


def test_a_client_without_keys_or_certificate_is_refused(data_dir: Path, capsys) -> None:
    code, _, err = run(capsys, "clients", "add", "his", "--scope", "system/*.rs")
    assert code == 2 and len(err) == 1 and "--jwks" in err[0] and "--certificate" in err[0]


def test_the_whole_flow_against_cdr_serve(tmp_path: Path) -> None:
    http_port = _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_AUTH": "on",
        "CDR_SANDBOX_PORT": str(_free_port()),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(_free_port()),
        "CDR_LOG_FORMAT": "text",
    }
    env.pop("CDR_REGIMES_URL", None)

    def cdr(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cdr.cli", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    keygen = cdr("clients", "keygen", str(tmp_path / "lab"))
    assert keygen.returncode == 0, keygen.stderr
    assert (tmp_path / "lab.key.pem").stat().st_mode & 0o777 == 0o600
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{http_port}/fhir"
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        added = cdr(
            "clients", "add", "lab", "--jwks", str(tmp_path / "lab.jwks.json"),
            "--scope", "system/CoverageEligibilityRequest.c",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        got = cdr("clients", "token", "lab", "--key", str(tmp_path / "lab.key.pem"))
        assert got.returncode == 0, got.stderr
        assert "scope: system/CoverageEligibilityRequest.c" in got.stderr
        token = got.stdout.strip()
        body = cer_for(first("c2s"))
        headers = {"Content-Type": "application/fhir+json"}
        submit = f"{base}/CoverageEligibilityRequest/$submit"
        without = httpx.post(submit, json=body, headers=headers)
        assert without.status_code == 401
        assert without.headers["WWW-Authenticate"].startswith("Bearer")
        assert without.json()["resourceType"] == "OperationOutcome"
        with_token = httpx.post(
            submit,
            json=body,
            headers={**headers, "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert with_token.status_code == 200, with_token.text
        assert with_token.json()["resourceType"] == "CoverageEligibilityResponse"
    finally:
        _, err = interrupt(server, timeout=15)
    assert "Traceback" not in err
    assert "authentication is on" in err
