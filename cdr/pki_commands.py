"""``cdr pki init DIR``: the test PKI shaped like IGC-Santé (``card.pki``), for the structure the
gateway acts for, written into an empty directory."""

from __future__ import annotations

import sys
from pathlib import Path

from card.pki import init_pki
from cdr.exits import EXIT_INPUT, EXIT_OK
from cdr.settings import Settings
from sandbox.eligibility import default_structures

__all__ = ["pki_init"]


def pki_init(settings: Settings, directory: Path) -> int:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        print(
            f"cdr: error: {directory} is not an empty directory: a PKI is made in a new one",
            file=sys.stderr,
        )
        return EXIT_INPUT
    finess = settings.requester_finess
    listed = default_structures().find(finess)
    name = listed.name if listed is not None else f"Structure {finess}"
    pki = init_pki(directory, structure_finess=finess, structure_name=name)
    print(f"test PKI written to {directory} (test material only: unencrypted keys)")
    print(f"  root CA            {pki.root}")
    print(f"  structure {finess}  {pki.path('structure.auth.cert')} (ORG AUTH_CLI)")
    print(f"  sandbox server     {pki.path('server.sandbox.cert')}")
    print(f"  cards              {', '.join(pki.manifest['cards'])}")
    return EXIT_OK
