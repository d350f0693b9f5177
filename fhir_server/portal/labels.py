"""French wording of the rights model's codes, for the pages and the attestation."""

from __future__ import annotations

import contextlib
from datetime import date

from rights.model import Period
from rights.result import InForceReason, RegimeStatus, Warning

__all__ = [
    "ETM_LABELS",
    "REASON_LABELS",
    "STATUS_LABELS",
    "french_date",
    "french_period",
    "french_warning",
    "lunar_or_french",
]

REASON_LABELS = {
    InForceReason.IN_FORCE: "droits ouverts à la date des soins",
    InForceReason.EXPIRED: "droits fermés : la dernière période de droits est terminée",
    InForceReason.NOT_YET_OPEN: "droits fermés : la période de droits n'a pas encore commencé",
    InForceReason.NO_RIGHTS: "droits fermés : le régime ne connaît aucune période de droits",
    InForceReason.UNKNOWN_PERSON: "personne inconnue du régime",
    InForceReason.REGIME_UNAVAILABLE: "régime indisponible : réessayez dans quelques minutes",
    InForceReason.REQUESTER_REFUSED: "le régime refuse la demande de votre structure",
    InForceReason.REQUEST_REJECTED: "le régime a rejeté la demande ou sa réponse est illisible",
}

STATUS_LABELS = {
    RegimeStatus.FOUND: "droits trouvés",
    RegimeStatus.UNKNOWN: "personne inconnue",
    RegimeStatus.UNAVAILABLE: "indisponible",
    RegimeStatus.TIMEOUT: "sans réponse dans le délai",
    RegimeStatus.REJECTED: "demande rejetée",
}

# Exonération du ticket modérateur (DESIGN §3).
ETM_LABELS = {
    "1": "pension militaire",
    "6": "maternité",
    "8": "ALD (affection de longue durée)",
    "9": "ALD (polypathologie)",
    "13": "ALD hors liste",
    "14": "invalidité",
    "16": "ALD (soins en rapport)",
    "17": "soins particuliers",
    "18": "soins particuliers",
}

_WARNINGS = {
    "outside-periods": "La date des soins est hors de toute période de droits : "
    "une facture pour cette date serait rejetée.",
    "c2s-not-in-force": "La C2S est connue mais n'est pas ouverte à la date des soins.",
    "ame-not-in-force": "L'AME est connue mais n'est pas ouverte à la date des soins.",
    "etm-not-in-force": "Des exonérations sont connues mais aucune ne couvre la date des soins.",
    "detenu": "Personne détenue (code gestion 65) : tiers payant intégral, "
    "prise en charge à 100 % par le régime général.",
    "lunar-birth-date": "Date de naissance lunaire : transmettez-la telle qu'elle figure "
    "sur la carte.",
    "nir-provisional": "Numéro provisoire (NNP, 7 ou 8) : droits AME ou en attente "
    "d'immatriculation.",
    "nir-msa-provisional": "Numéro provisoire MSA (555555).",
    "nir-mig": "Numéro MIG (5 ou 6) : bénéficiaire en passage coordonné.",
    "nir-nir-unusual-sex": "NIR commençant par 3 ou 4 : vérifiez l'identité.",
    "test-nir": "NIR de test ou de démonstration : ce n'est pas une personne réelle.",
}


def french_date(day: date | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


def lunar_or_french(text: str | None) -> str:
    """A birth date as stored (``YYYY-MM-DD``, possibly lunar) shown as JJ/MM/AAAA."""
    if not text:
        return ""
    parts = text.split("-")
    return "/".join(reversed(parts)) if len(parts) == 3 else text


def french_period(period: Period) -> str:
    if period.end is None:
        return f"depuis le {french_date(period.start)}"
    return f"du {french_date(period.start)} au {french_date(period.end)}"


def french_warning(warning: Warning) -> str:
    if warning.code == "ending-soon":
        last = warning.message.rsplit(" ", 1)[-1]
        with contextlib.suppress(ValueError):
            last = french_date(date.fromisoformat(last))
        return f"Les droits se terminent bientôt (le {last}) : pensez à les faire renouveler."
    return _WARNINGS.get(warning.code, warning.message)
