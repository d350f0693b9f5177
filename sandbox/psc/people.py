"""The synthetic professionals the sandbox provider can authenticate, and the UserInfo claims
Pro Santé Connect returns for them (reference card.md §3: GEN-VIHF UserInfos).

Every RPPS here is a test number (the 10 000 000 000 range is not assigned to anyone real).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PROFESSIONALS", "Professional", "find_professional"]

# PSC's SubjectRole for a professional acting as such (GEN-VIHF, table TRE_R21).
_ROLE_PS = "10^1.2.250.1.71.1.2.7"
# Palier_Authentification: e-CPS or CPS, substantial assurance (eIDAS "substantiel").
_PALIER = "APPPRIP3^1.2.250.1.213.1.5.1.1.1"


@dataclass(frozen=True, slots=True)
class Professional:
    rpps: str  # 11 digits
    civility: str  # codeCivilite (TRE_R81): M, MME, DR
    family_name: str
    given_name: str
    profession_code: str  # codeProfession (TRE_G15): 10 médecin, 60 infirmier…
    profession_label: str
    category_code: str  # codeCategorieProfessionnelle: C civil, M militaire, E étudiant
    structure_finess: str
    structure_name: str

    @property
    def national_id(self) -> str:
        """SubjectNameID: the idNat_PS, "8" followed by the RPPS."""
        return "8" + self.rpps

    def userinfo(self) -> dict[str, Any]:
        """The claims PSC's UserInfo endpoint returns for this professional."""
        return {
            "sub": self.national_id,
            "SubjectNameID": self.national_id,
            "preferred_username": self.national_id,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "SubjectRole": [_ROLE_PS],
            "SubjectOrganization": self.structure_name,
            "SubjectOrganizationID": "1" + self.structure_finess,  # idNat_Struct: 1 + FINESS
            "Secteur_Activite": "SA01^1.2.250.1.71.4.2.4",  # établissement de santé
            "Palier_Authentification": _PALIER,
            "otherIds": [{"identifiant": self.rpps, "origine": "RPPS", "qualite": 1}],
            "SubjectRefPro": {
                "codeCivilite": self.civility,
                "exercices": [
                    {
                        "codeProfession": self.profession_code,
                        "codeCategorieProfessionnelle": self.category_code,
                        "codeCiviliteDexercice": self.civility,
                        "nomDexercice": self.family_name,
                        "prenomDexercice": self.given_name,
                        "codeTypeSavoirFaire": "",
                        "codeSavoirFaire": "",
                        "activities": [
                            {
                                "codeModeExercice": "S",  # salarié
                                "codeSecteurDActivite": "SA01",
                                "numeroFinessSite": self.structure_finess,
                                "raisonSocialeSite": self.structure_name,
                                "codeRole": "FON-01",
                            }
                        ],
                    }
                ],
            },
        }


_STRUCTURE = ("750100018", "Centre hospitalier de démonstration Paris-Lutèce")

PROFESSIONALS: tuple[Professional, ...] = (
    Professional("10000000012", "DR", "MARTIN", "Claire", "10", "Médecin", "C", *_STRUCTURE),
    Professional("10000000020", "M", "DUBOIS", "Karim", "60", "Infirmier", "C", *_STRUCTURE),
    Professional("10000000038", "MME", "LEROY", "Sophie", "21", "Pharmacien", "C", *_STRUCTURE),
    Professional("10000000046", "MME", "NGUYEN", "Linh", "50", "Sage-femme", "C", *_STRUCTURE),
)


def find_professional(national_id: str) -> Professional | None:
    return next((p for p in PROFESSIONALS if p.national_id == national_id), None)
