"""A member of the sandbox population and the scenario tags that say what it demonstrates.

The tags are a fixed vocabulary shared with the CLI (``cdr sandbox list``), the conformance kit
and the tests. Most of them follow from the member's number and rights (``derive_tags``); a few
describe a situation around the lookup (no card at the desk, an emergency, deferred billing) and
are given by the scenario that builds the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rights.identifiers import NirKind, parse_nir
from rights.model import Qualite, RegimeRights, SituationKind

__all__ = ["SCENARIO_TAGS", "STATUS_TAGS", "Member", "derive_tags", "order_tags"]

SCENARIO_TAGS: tuple[str, ...] = (
    "open",
    "closed",
    "future",
    "c2s",
    "ame",
    "etm",
    "mtm",
    "atmp",
    "medecin-traitant",
    "provisional",
    "msa-provisional",
    "mig",
    "nia",
    "corsica",
    "born-abroad",
    "pseudo-month",
    "unusual-sex",
    "detenu",
    "sncf",
    "twins",
    "ayant-droit",
    "multi-period",
    "no-card",
    "emergency",
    "deferred-billing",
    "rejected-invoice",
    "unknown",
)

# Where AMO rights stand on the member's date of care.
STATUS_TAGS: tuple[str, ...] = ("open", "closed", "future")

_TAG_RANK = {tag: i for i, tag in enumerate(SCENARIO_TAGS)}

_KIND_TAGS = {
    NirKind.PROVISIONAL: "provisional",
    NirKind.MSA_PROVISIONAL: "msa-provisional",
    NirKind.MIG: "mig",
    NirKind.NIR_UNUSUAL_SEX: "unusual-sex",
}


@dataclass(frozen=True, slots=True)
class Member:
    """One synthetic beneficiary as a test would query it.

    ``nir`` is the 15-character number to send: the beneficiary's own NIR, or the ouvrant
    droit's for a child identified by birth date and rang. ``rights`` is None for a person no
    regime knows. ``date_of_care`` is the day to ask about (in the past for deferred billing).
    """

    nir: str
    birth_date: str
    rang: int
    regime: str
    scenarios: tuple[str, ...]
    rights: RegimeRights | None
    date_of_care: date
    family_name: str
    given_name: str
    note: str


def order_tags(tags: set[str] | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Tags in vocabulary order, so that equal sets always print the same way."""
    unknown = [t for t in tags if t not in _TAG_RANK]
    if unknown:
        raise ValueError(f"not scenario tags: {', '.join(sorted(unknown))}")
    return tuple(sorted(set(tags), key=_TAG_RANK.__getitem__))


def derive_tags(nir: str, rights: RegimeRights | None, day: date) -> set[str]:
    """The tags that follow from the number queried and the rights held on ``day``."""
    tags = set(_number_tags(nir))
    if rights is None:
        return tags
    periods = [amo.period for amo in rights.amo]
    if any(p.covers(day) for p in periods):
        tags.add("open")
    elif periods and all(p.is_after(day) for p in periods):
        tags.add("future")
    elif periods:
        tags.add("closed")
    kinds = {s.kind for s in rights.situations}
    if SituationKind.C2S in kinds:
        tags.add("c2s")
    if SituationKind.AME in kinds:
        tags.add("ame")
    checks = {
        "etm": bool(rights.exonerations),
        "mtm": bool(rights.modulations),
        "atmp": bool(rights.accidents) or rights.default_at_organisation is not None,
        "medecin-traitant": rights.medecin_traitant is not None,
        "detenu": rights.organisation.code_gestion == "65",
        "sncf": rights.sncf_contract is not None,
        "ayant-droit": rights.beneficiary.qualite is Qualite.ENFANT,
        "multi-period": len(periods) > 1,
    }
    tags.update(tag for tag, holds in checks.items() if holds)
    return tags


def _number_tags(nir: str) -> list[str]:
    parsed = parse_nir(nir)
    tags = [_KIND_TAGS[parsed.kind]] if parsed.kind in _KIND_TAGS else []
    if parsed.kind in (NirKind.NIR, NirKind.NIR_UNUSUAL_SEX):
        month = int(parsed.body[3:5])
        if month > 12:
            tags.append("pseudo-month")
        if parsed.department in ("2A", "2B"):
            tags.append("corsica")
        if parsed.department == "99":
            tags.append("born-abroad")
    return tags
