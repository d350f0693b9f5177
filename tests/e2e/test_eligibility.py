"""`cdr eligibility` (exit 0 eligible, 1 not, 2 not a FINESS) and the structure check `cdr
serve` makes before it opens any socket (issue 13, item 5)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from cdr.cli import main


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["750100018"], 0, "eligible: category 355"),
        (["930100037"], 0, "centre de santé"),
        (["130100050"], 1, "category 500"),  # an EHPAD of the sandbox's directory
        (["750712184"], 1, "is not known"),  # not in the directory, no --category
        (["750712184", "--category", "101"], 0, "category 101"),
        (["750712184", "--category", "620"], 1, "not eligible"),
        (["750712185"], 2, "check digit"),
        (["2A0100046"], 0, "eligible"),
    ],
)
def test_the_verdict_its_reason_and_its_exit_code(capsys, args, code, says):
    assert main(["eligibility", *args]) == code
    assert says in capsys.readouterr().out


def test_the_json_verdict(capsys):
    assert main(["eligibility", "330100066", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["eligible"] is True and verdict["category"]["code"] == "130"
    assert verdict["category"]["parent"] == "124" and "closed" in verdict["warning"]
    assert main(["eligibility", "12", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["valid"] is False


def test_serve_refuses_a_structure_cdr_does_not_serve_before_listening(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_STRUCTURE_FINESS": "130100050",
        "CDR_HTTP_PORT": str(port),
    }
    process = subprocess.run(
        [sys.executable, "-m", "cdr.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert lines == [line for line in lines if "Traceback" not in line]
    assert lines[-1].startswith("cdr: configuration error: CDR_STRUCTURE_FINESS 130100050")
    assert "category 500" in lines[-1]
    assert list(tmp_path.iterdir()) == []  # nothing created, nothing listened on


def test_serve_refuses_to_listen_beyond_loopback_without_authentication(tmp_path):
    env = {**os.environ, "CDR_DATA_DIR": str(tmp_path)}
    process = subprocess.run(
        [sys.executable, "-m", "cdr.cli", "serve", "--host", "0.0.0.0", "--http-port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert process.returncode == 2
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("cdr: configuration error: authentication is off and CDR_HTTP_HOST")
    assert "Traceback" not in process.stderr
