"""The `cdr` command line against the real sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import httpx
import pytest

from cdr.cli import main
from tests.e2e.test_scenarios import POPULATION

OPEN = next(m for m in POPULATION.members if m.regime == "msa" and "open" in m.scenarios)


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("CDR_REGIMES_URL", sandbox.url)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    return {"CDR_REGIMES_URL": sandbox.url, "CDR_DATA_DIR": str(tmp_path)}


def test_lookup_prints_a_table_of_rights(env, capsys):
    assert main(["lookup", "--nir", OPEN.nir, "--birth-date", OPEN.birth_date]) == 0
    out = capsys.readouterr().out
    assert "MSA: rights IN FORCE" in out
    assert OPEN.family_name in out
    assert "Organisation" in out and "AMO" in out
    assert out.count("\n") > 20  # the 17-regime table and the rights block


def test_an_unknown_person_is_one_sentence(env, capsys):
    stranger = next(m for m in POPULATION.members if "unknown" in m.scenarios)
    assert main(["lookup", "--nir", stranger.nir, "--birth-date", stranger.birth_date]) == 0
    out = capsys.readouterr().out
    assert "No regime knows this person (17 regimes asked)." in out.splitlines()
    assert "unknown-person" not in out
    assert out.count("\n") < 10


def test_lookup_json_is_stable_machine_output(env, capsys):
    code = main(
        ["lookup", "--nir", OPEN.nir, "--regime", "msa", "--date", OPEN.date_of_care.isoformat(),
         "--json"]
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 1
    assert data["query"]["mode"] == "validation"
    assert data["outcome"] == "complete"
    [result] = data["results"]
    assert result["regime"] == "msa" and result["status"] == "found" and result["in_force"]
    rights = result["rights"]
    assert rights["beneficiary"]["family_name"] == OPEN.family_name
    assert rights["organisation"]["regime_code"] == "02"
    assert rights["amo"][0]["period"]["start"]
    assert data["lookup_id"]


@pytest.mark.parametrize(
    ("nir", "expected"),
    [
        ("12345", "13 characters"),
        ("1850575056123A0", "key must be two digits"),
        ("1851375056123", "month"),
    ],
)
def test_invalid_nir_exits_2_with_the_failed_check(env, capsys, nir, expected):
    assert main(["lookup", "--nir", nir]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "nir:" in err


def test_wrong_key_names_the_expected_key(env, capsys):
    wrong = OPEN.nir[:13] + f"{(int(OPEN.nir[13:]) % 97) + 1:02d}"
    assert main(["lookup", "--nir", wrong]) == 2
    assert f"expected key {OPEN.nir[13:]}" in capsys.readouterr().err


def test_json_mode_reports_input_errors_as_json(env, capsys):
    wrong = OPEN.nir[:13] + f"{(int(OPEN.nir[13:]) % 97) + 1:02d}"
    assert main(["lookup", "--nir", wrong, "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["check"] == "key"
    assert error["expected_key"] == OPEN.nir[13:]
    assert error["location"] == "nir"


def test_unknown_regime_lists_the_valid_ones(env, capsys):
    assert main(["lookup", "--nir", OPEN.nir, "--regime", "cpam"]) == 2
    err = capsys.readouterr().err
    assert "unknown regime 'cpam'" in err and "cnam" in err and "senat" in err


def test_bad_date_names_the_option(env, capsys):
    assert main(["lookup", "--nir", OPEN.nir, "--date", "24/11/2026"]) == 2
    assert "--date" in capsys.readouterr().err


def test_dates_no_lookup_can_be_made_with_exit_2(env, capsys):
    # The same rules as the FHIR API and HL7 (rights/dates.py); lunar birth dates pass.
    assert main(["lookup", "--nir", OPEN.nir, "--birth-date", "2099-01-01"]) == 2
    assert "future" in capsys.readouterr().err
    assert main(["lookup", "--nir", OPEN.nir, "--date", "0001-01-01"]) == 2
    assert "--date" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("finess", "expected"),
    [("999999999", "check digit"), ("75071218", "9 characters"), ("1750712184", "9 characters")],
)
def test_an_unreadable_finess_exits_2_before_any_regime_is_asked(
    env, sandbox, capsys, finess, expected
):
    # Every regime down: a regime asked would make the lookup fail (exit 1), not the check.
    httpx.put(f"{sandbox.url}/admin/faults/*", json={"down": True}).raise_for_status()
    try:
        code = main(["lookup", "--nir", OPEN.nir, "--finess", finess])
    finally:
        httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--finess:" in err and expected in err


def test_a_refused_requester_is_a_refusal_not_an_unavailable_system(
    sandbox, tmp_path, monkeypatch, capsys
):
    # The embedded-sandbox settings, pointed at the running sandbox: the "is it running" hint
    # would be given if a refusal were taken for a failure to connect.
    monkeypatch.delenv("CDR_REGIMES_URL", raising=False)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CDR_SANDBOX_PORT", sandbox.url.rsplit(":", 1)[1])
    ehpad = "130100050"  # a structure of FINESS category 500, which CDR does not serve
    code = main(["lookup", "--nir", OPEN.nir, "--regime", "msa", "--finess", ehpad])
    captured = capsys.readouterr()
    assert code == 1
    row = next(line for line in captured.out.splitlines() if line.startswith("MSA "))
    assert "rejected" in row and "requester-refused" in row and "regime-unavailable" not in row
    assert "Is the system running" not in captured.err
    assert f"FINESS {ehpad}" in captured.err and "[requester-refused]" in captured.err
    assert main(["lookup", "--nir", OPEN.nir, "--regime", "msa", "--finess", ehpad, "--json"]) == 1
    [result] = json.loads(capsys.readouterr().out)["results"]
    assert (result["status"], result["reason"]) == ("rejected", "requester-refused")


def test_no_regime_answering_exits_1_with_a_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CDR_REGIMES_URL", raising=False)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CDR_SANDBOX_PORT", "9")  # nothing listens there
    monkeypatch.setenv("CDR_REGIME_MAX_ATTEMPTS", "1")
    assert main(["lookup", "--nir", OPEN.nir, "--regime", "msa"]) == 1
    assert "make run" in capsys.readouterr().err


def test_sandbox_list_json_has_the_fixed_fields(capsys):
    assert main(["sandbox", "list", "--json", "--scenario", "c2s"]) == 0
    members = json.loads(capsys.readouterr().out)
    assert members
    for member in members:
        assert {"nir", "birth_date", "rang", "regime", "scenarios"} <= member.keys()
        assert "c2s" in member["scenarios"]


def test_sandbox_list_unknown_tag(capsys):
    assert main(["sandbox", "list", "--scenario", "nope"]) == 2
    assert "tags:" in capsys.readouterr().err


def test_regimes_shows_live_health(env, sandbox, capsys):
    httpx.put(f"{sandbox.url}/admin/faults/senat", json={"down": True}).raise_for_status()
    try:
        assert main(["regimes", "--json"]) == 0
    finally:
        httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()
    data = json.loads(capsys.readouterr().out)
    health = {r["code"]: r["up"] for r in data["regimes"]}
    assert len(health) == 17
    assert health["senat"] is False
    assert health["cnam"] is True
    atmp = {r["code"] for r in data["regimes"] if r["returns_atmp"]}
    assert atmp == {"cnam", "msa"}


def test_regimes_with_no_server_running_says_so(tmp_path, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CDR_REGIMES_URL", raising=False)
    monkeypatch.setenv("CDR_SANDBOX_PORT", str(port))
    assert main(["regimes"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # not a table of 17 regimes down
    assert err.splitlines() == [
        f"cdr: no regime service answers at http://127.0.0.1:{port}: "
        "is the gateway running (`cdr serve` or `make run`)?"
    ]
    assert list(tmp_path.iterdir()) == []  # no database made on the way


def test_cdr_is_a_real_command(env):
    """The installed console script, in its own process."""
    process = subprocess.run(
        [sys.executable, "-m", "cdr.cli", "lookup", "--nir", OPEN.nir, "--regime", "msa", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert json.loads(process.stdout)["results"][0]["status"] == "found"


def test_a_closed_pipe_is_not_a_traceback():
    """`cdr sandbox list --json | head -c 10`: the reader leaves early."""
    process = subprocess.run(
        f"{sys.executable} -m cdr.cli sandbox list --json | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.stdout.startswith("[")
    assert "Traceback" not in process.stderr
