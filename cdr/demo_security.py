"""The embedded demo, secured as the real service is (issue 13, item 6): with the sandbox as its
regimes and no certificate configured, the gateway uses a test PKI kept in
``<data_dir>/pki`` (made by `cdr serve` the first time, as `cdr pki init` would): the sandbox
serves mutual TLS with its server certificate and checks every call's signed assertion, the
gateway presents the structure's ORG AUTH_CLI certificate and signs with its ORG SIGN one.
Every command finds the same material through the same data directory, so `cdr lookup` (with
or without `--card`) reaches the sandbox `cdr serve` started. ``CDR_DEMO_SECURITY=off`` keeps
the plain-HTTP demo. `cdr serve` also puts an emulated card in vsmartcard's virtual reader
(``CDR_DEMO_CARD``, default the medecin profile, PIN 1234) for `cdr lookup --card` and the
portal, and starts the desk's card agent beside it (``CDR_CARD_AGENT_PORT``).

A site that configures its own regimes (``CDR_REGIMES_URL``) or its own certificates is never
touched: this is demo material, written unencrypted, for the embedded sandbox only.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from card.emulator import emulated_card_from_pki
from card.pki import PROFILES, init_pki
from card.vpcd import VirtualCardLink
from cdr.settings import Settings
from rights.errors import ConfigError
from sandbox.eligibility import default_structures

__all__ = [
    "DEMO_PIN",
    "DemoCard",
    "demo_card",
    "demo_pki_directory",
    "ensure_pki",
    "start_demo_card",
    "with_demo_security",
]

DEMO_PIN = "1234"


def demo_pki_directory(settings: Settings) -> Path:
    return settings.data_dir / "pki"


def _applies(settings: Settings) -> bool:
    return (
        settings.demo_security == "on"
        and settings.uses_embedded_sandbox
        and settings.sandbox_tls_cert_file is None
        and settings.regimes_client_cert_file is None
        and settings.structure_sign_cert_file is None
    )


def _made_for(directory: Path) -> str | None:
    """The FINESS the PKI in ``directory`` was made for, None when there is none."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return str(manifest["structure"]["finess"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_pki(settings: Settings, directory: Path) -> Path:
    """The test PKI in ``directory``, made for the configured structure: written when absent,
    made again when it was made for another structure (demo material only)."""
    finess = settings.requester_finess
    if _made_for(directory) == finess:
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    listed = default_structures().find(finess)
    name = listed.name if listed is not None else f"Structure {finess}"
    init_pki(directory, structure_finess=finess, structure_name=name)
    return directory


def with_demo_security(settings: Settings, *, create: bool) -> Settings:
    """``settings`` with the demo PKI's files filled in when the demo security applies; the
    PKI is made when ``create`` (`cdr serve`), otherwise used only if it is there."""
    if not _applies(settings):
        return settings
    directory = demo_pki_directory(settings)
    if create:
        try:
            ensure_pki(settings, directory)
        except OSError as exc:
            raise ConfigError(
                f"the demo's test PKI cannot be written in {directory}: {exc}"
            ) from None
    elif _made_for(directory) != settings.requester_finess:
        return settings  # nothing made yet for this structure: `cdr serve` makes it

    def path(relative: str) -> Path:
        return directory / relative

    return settings.model_copy(
        update={
            "sandbox_tls_cert_file": path("server/sandbox.pem"),
            "sandbox_tls_key_file": path("server/sandbox.key"),
            "sandbox_tls_client_ca_file": path("ca/chain.pem"),
            "sandbox_require_assertions": True,
            "sandbox_crl_files": [path("crl/persons.crl.pem"), path("crl/organisations.crl.pem")],
            "regimes_ca_file": path("ca/chain.pem"),
            "regimes_client_cert_file": path("structure/org-auth-cli.pem"),
            "regimes_client_key_file": path("structure/org-auth-cli.key"),
            "structure_sign_cert_file": path("structure/org-sign.pem"),
            "structure_sign_key_file": path("structure/org-sign.key"),
            # The portal's card login trusts the demo's cards.
            "portal_card_ca_file": settings.portal_card_ca_file or path("ca/chain.pem"),
            "portal_card_crl_files": settings.portal_card_crl_files
            or [path("crl/persons.crl.pem")],
        }
    )


@dataclass(frozen=True, slots=True)
class DemoCard:
    """The card `cdr serve` puts in the virtual reader for the demo."""

    profile: str
    pki: Path
    pin: str = DEMO_PIN

    def describe(self) -> str:
        holder = PROFILES[self.profile]
        return (
            f"{holder.card} card of {holder.given} {holder.surname} ({holder.title}, "
            f"{holder.national_id}), PIN {self.pin}"
        )


def demo_card(settings: Settings) -> DemoCard | None:
    """The demo card when the demo security is on and a profile is asked (default medecin)."""
    if settings.demo_card == "off" or not _applies(settings):
        return None
    return DemoCard(settings.demo_card, demo_pki_directory(settings))


def start_demo_card(card: DemoCard) -> tuple[VirtualCardLink, bool]:
    """The demo card running in a thread, in vpcd's reader (default 127.0.0.1:35963) whenever
    ``pcscd`` with vsmartcard's driver listens there (it keeps trying); and whether it listens
    now, for the start-up message."""
    link = VirtualCardLink(emulated_card_from_pki(card.pki, card.profile, pin=card.pin))
    try:
        socket.create_connection((link.host, link.port), timeout=0.5).close()
        reader = True
    except OSError:
        reader = False
    threading.Thread(target=link.run, name="demo-card", daemon=True).start()
    return link, reader
