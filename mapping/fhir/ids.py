"""Deterministic logical ids for the resources a lookup produces.

Repeating a lookup for the same person must update the same Patient, Coverage, Organization and
Practitioner instead of piling up copies, so every id is derived from the values that identify
the thing: a SHA-256 digest, truncated, behind a readable prefix. Digests also keep NIRs out of
URLs and logs. The result always matches the FHIR id rule ``[A-Za-z0-9\\-\\.]{1,64}``.

A person is identified as the regimes know them (CDRi 03.01/03.02): the ouvrant droit's NIR, the
beneficiary's birth date and rang, never by what a client happened to send (with or without a
birth date). A Coverage is named after the Patient it belongs to, so that no lookup can ever
re-point another Patient's Coverage. ``docs/fhir-profile.md`` says what a client may rely on.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import date

__all__ = [
    "CoverageKind",
    "coverage_id",
    "organization_id",
    "patient_id",
    "practitioner_id",
    "structure_id",
]

# 128 bits: collisions are out of reach for any population a gateway will ever see.
_DIGEST_CHARS = 32


class CoverageKind(enum.StrEnum):
    """The kinds of Coverage a regime's answer turns into."""

    AMO = "amo"  # base rights, one per AMO period
    C2S = "c2s"
    AME = "ame"
    ATMP = "atmp"  # one per declared work accident or occupational disease


def _digest(kind: str, *parts: str) -> str:
    # The unit separator cannot occur in any identifying value, so ("ab", "c") and ("a", "bc")
    # never hash alike; the kind keeps a Patient and an Organization from ever sharing an id.
    text = "\x1f".join((kind, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def _nir_body(nir: str) -> str:
    # The key follows from the 13-character body, so 13 and 15 characters name the same person.
    return "".join(nir.split()).upper()[:13]


def patient_id(nir: str, birth_date: str | None, rang: int) -> str:
    """A person: the NIR their rights are under (an ouvrant droit's for a child), birth date and
    rang. Twins share the first two and differ by rang."""
    return "patient-" + _digest("Patient", _nir_body(nir), birth_date or "", str(rang))


def coverage_id(
    regime: str,
    patient: str,
    kind: CoverageKind,
    start: date,
    accident_number: str | None = None,
) -> str:
    """One Coverage: the regime, the id of the Patient whose rights it holds, which kind, from
    when; an AT/MP Coverage is also named by its accident number."""
    if (kind is CoverageKind.ATMP) != (accident_number is not None):
        raise ValueError("an accident number names AT/MP coverages, and only them")
    parts = (regime.lower(), patient, kind.value, start.isoformat(), accident_number or "")
    return "coverage-" + _digest("Coverage", *parts)


def organization_id(number: str) -> str:
    """A caisse, from its 9-digit organisation number (régime + caisse + centre)."""
    return "org-" + _digest("Organization", "".join(number.split()))


def structure_id(finess: str) -> str:
    """A health establishment asking for rights, from its FINESS number."""
    return "structure-" + _digest("Structure", "".join(finess.split()))


def practitioner_id(identifier: str) -> str:
    """A médecin traitant, from the identifier the regime gives (n° Assurance Maladie or RPPS)."""
    return "practitioner-" + _digest("Practitioner", "".join(identifier.split()))
