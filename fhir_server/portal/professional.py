"""The logged-in professional, as the session keeps them, made from Pro Santé Connect's UserInfo
claims (reference card.md §3) or, later, from a CPx card's certificate."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PROFESSION_LABELS", "Professional", "professional_from_userinfo"]

# codeProfession (nomenclature TRE_G15), the ones a front desk meets most.
PROFESSION_LABELS = {
    "10": "Médecin",
    "21": "Pharmacien",
    "26": "Audioprothésiste",
    "28": "Opticien-lunetier",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
    "80": "Pédicure-podologue",
}


@dataclass(frozen=True, slots=True)
class Professional:
    national_id: str  # idNat_PS: "8" + RPPS
    rpps: str
    family_name: str
    given_name: str
    profession: str
    structure: str
    structure_finess: str
    login: str  # "psc" (e-CPS or CPS through Pro Santé Connect) or "card" (CPx at the desk)

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def to_session(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_session(cls, data: Any) -> Professional | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__})
        except KeyError:
            return None


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def professional_from_userinfo(claims: dict[str, Any]) -> Professional:
    """The professional PSC names. ValueError when the claims name nobody (no idNat_PS)."""
    national_id = str(claims.get("SubjectNameID") or claims.get("sub") or "")
    if not national_id:
        raise ValueError("no SubjectNameID in the UserInfo claims")
    # An RPPS-based idNat_PS is "8" + the 11-digit RPPS; an ADELI one starts with 0.
    rpps = national_id[1:] if national_id.startswith("8") and len(national_id) == 12 else ""
    if not rpps:
        other = [o for o in claims.get("otherIds") or [] if isinstance(o, dict)]
        rpps = next((str(o["identifiant"]) for o in other if o.get("origine") == "RPPS"), "")
    ref_pro = claims.get("SubjectRefPro") if isinstance(claims.get("SubjectRefPro"), dict) else {}
    exercice = _first((ref_pro or {}).get("exercices"))
    activity = _first(exercice.get("activities"))
    code = str(exercice.get("codeProfession", ""))
    return Professional(
        national_id=national_id,
        rpps=rpps,
        family_name=str(exercice.get("nomDexercice") or claims.get("family_name") or ""),
        given_name=str(exercice.get("prenomDexercice") or claims.get("given_name") or ""),
        profession=PROFESSION_LABELS.get(code, f"Profession {code}" if code else ""),
        structure=str(activity.get("raisonSocialeSite") or claims.get("SubjectOrganization") or ""),
        structure_finess=str(activity.get("numeroFinessSite") or ""),
        login="psc",
    )
