"""Each regime's short user guide (the seeds' "guide utilisateur" behind every tile): our own
French text, made from the catalogue entry and what its family's answers carry."""

from __future__ import annotations

from dataclasses import dataclass

from rights.catalogue import Regime

__all__ = ["Guide", "guide_for"]

_FAMILY_NOTES = {
    "cnam": "Le régime général répond avec tous les blocs d'information : droits de base, "
    "C2S, exonérations, médecin traitant et accidents du travail ou maladies professionnelles.",
    "msa": "La MSA couvre les exploitants et salariés agricoles. Elle renvoie aussi les "
    "accidents du travail déclarés ; ses assurés sans NIR ont parfois un numéro provisoire "
    "commençant par 555555.",
    "slm": "Cette section locale mutualiste gère l'assurance maladie obligatoire de ses "
    "adhérents (fonctionnaires, étudiants ou agents selon la mutuelle). Le code régime est "
    "souvent 99 : le centre de gestion désigne alors la mutuelle.",
    "special": "Ce régime spécial répond avec les droits de base, la C2S et les exonérations. "
    "Les accidents du travail n'y sont pas transmis : adressez-vous à l'employeur.",
}


@dataclass(frozen=True, slots=True)
class Guide:
    regime: Regime
    steps: tuple[str, ...]
    note: str
    atmp: str


def guide_for(regime: Regime) -> Guide:
    return Guide(
        regime=regime,
        steps=(
            f"Sur l'accueil, choisissez la tuile « {regime.label} ».",
            "Saisissez le NIR du patient (13 caractères, ou 15 avec la clé) : la clé attendue "
            "s'affiche pendant la saisie.",
            "Indiquez la date de naissance (JJ/MM/AAAA ; une date lunaire est acceptée telle "
            "qu'elle figure sur la carte) et le rang de naissance (1 sauf jumeaux).",
            "Vérifiez la date des soins (aujourd'hui par défaut) puis lancez la consultation.",
            "Lisez la conclusion « droits ouverts / fermés à la date des soins » et les "
            "alertes, puis téléchargez l'attestation si besoin.",
        ),
        note=_FAMILY_NOTES.get(regime.family, ""),
        atmp=(
            "Ce régime transmet l'organisme AT/MP par défaut et les accidents déclarés."
            if regime.returns_atmp
            else "Ce régime ne transmet pas les accidents du travail ni les maladies "
            "professionnelles."
        ),
    )
