"""CDRi exonération du ticket modérateur (ETM, CDRi 03.05) → IN1-15, the "justificatif
d'exonération du TM" that PAM FR 2.11.2 §6.20.1 codes with the B2 norm's annexe 9 (1 character).

Versioned table. Its sources:

- CDRi ETM codes and meanings: FIDES-BS RG_BS684 (1 pension militaire, 6 maternité, 8/9/13/16
  ALD, 14 invalidité, 17/18 soins particuliers exonérés).
- The B2 annexe 9 code list itself is NOT among the references this gateway was built from
  (PAM FR 2.11.2 names the annexe, it does not reproduce it). Where no source gives the B2 code
  of a CDRi exonération, the table says so (``None``) and IN1-15 stays empty: a wrong code in
  a billing field costs more than an empty RE field. The CDRi code itself is still sent, in
  ZRD-9 (``mapping.hl7v2.rights_segments``), where a receiver that knows CDRi can read it.

To map a code, put the B2 annexe 9 character in ``b2`` with the edition of the B2 norm it
comes from in ``source``, bump ``TABLE_VERSION`` and update docs/hl7-interface.md §8.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ETM_TO_B2", "TABLE_VERSION", "EtmMapping", "b2_exoneration"]

TABLE_VERSION = "2026-12-07.1"


@dataclass(frozen=True, slots=True)
class EtmMapping:
    cdri: str
    meaning: str
    b2: str | None  # the B2 annexe 9 character, None while no reference gives it
    source: str


_NO_B2_SOURCE = "B2 annexe 9 not in the references: no code established"

ETM_TO_B2: dict[str, EtmMapping] = {
    m.cdri: m
    for m in (
        EtmMapping("1", "pension militaire", None, _NO_B2_SOURCE),
        EtmMapping("6", "maternité", None, _NO_B2_SOURCE),
        EtmMapping("8", "ALD", None, _NO_B2_SOURCE),
        EtmMapping("9", "ALD", None, _NO_B2_SOURCE),
        EtmMapping("13", "ALD", None, _NO_B2_SOURCE),
        EtmMapping("14", "invalidité", None, _NO_B2_SOURCE),
        EtmMapping("16", "ALD", None, _NO_B2_SOURCE),
        EtmMapping("17", "soins particuliers exonérés", None, _NO_B2_SOURCE),
        EtmMapping("18", "soins particuliers exonérés", None, _NO_B2_SOURCE),
    )
}


def b2_exoneration(cdri_code: str) -> str:
    """IN1-15 for a CDRi ETM code: its B2 annexe 9 character, or "" when none is established
    (unknown CDRi codes included)."""
    mapping = ETM_TO_B2.get(cdri_code)
    return mapping.b2 or "" if mapping is not None else ""
