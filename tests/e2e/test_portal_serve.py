"""`cdr serve` as `make run` starts it, the secured demo included (the sandbox behind mutual
TLS and signed assertions; no demo card, the card reader is not this test's): the portal at
`/` logs a professional in through the Pro Santé Connect look-alike on its own plain-HTTP port,
which browsers can reach, and a lookup goes through to the secured sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx

from tests.e2e.test_serve import _free_port, _wait_ready, interrupt
from tests.portal_fixtures import csrf_of

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def test_make_run_serves_the_portal_with_its_psc_login(tmp_path):
    http_port = _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_SANDBOX_PORT": str(_free_port()),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(_free_port()),
        "CDR_DEMO_CARD": "off",
        "CDR_LOG_FORMAT": "text",
    }
    env.pop("CDR_REGIMES_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        _wait_ready(f"{url}/readyz", server, deadline_s=60)
        with httpx.Client(base_url=url, timeout=15) as client:
            login = client.get("/connexion")
            start = client.post("/connexion/psc", data={"csrf": csrf_of(login.text)})
            authorize = start.headers["location"]
            assert authorize.startswith("http://127.0.0.1:")  # plain HTTP, reachable
            approval = httpx.get(authorize)
            fields = {k: v.replace("&amp;", "&") for k, v in _HIDDEN.findall(approval.text)}
            choice = re.search(r'name="professional" value="([^"]+)"', approval.text)
            assert choice is not None
            approved = httpx.post(
                authorize.split("?")[0] + "/approve",
                data={**fields, "professional": choice.group(1), "decision": "approve"},
            )
            assert client.get(approved.headers["location"]).headers["location"] == "/"
            terms = client.get("/cgu")
            version = re.search(r'name="version" value="([^"]+)"', terms.text)
            assert version is not None
            client.post(
                "/cgu",
                data={"csrf": csrf_of(terms.text), "version": version.group(1), "accept": "oui"},
            )
            form = client.get("/consultation/inconnu")
            listing = ["sandbox", "list", "--json", "--scenario", "open"]
            people = subprocess.run(
                [sys.executable, "-m", "cdr.cli", *listing],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            nir = re.search(r'"nir": "(\d{15})"', people)
            assert nir is not None
            page = client.post(
                "/consultation/inconnu",
                data={"csrf": csrf_of(form.text), "nir": nir.group(1), "date_of_care": ""},
            )
            assert page.status_code == 200
            assert "Droits ouverts à la date des soins" in page.text
            link = re.search(r'href="(/consultations/[0-9a-f]+/attestation\.pdf)"', page.text)
            assert link is not None
            pdf = client.get(link.group(1))
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    finally:
        _out, err = interrupt(server, timeout=15)
    assert "Traceback" not in err
    assert "regime security  mutual TLS and a signed assertion on every call" in err
    assert "Pro Santé Connect http://127.0.0.1:" in err
    assert f"staff portal     http://127.0.0.1:{http_port}/" in err
