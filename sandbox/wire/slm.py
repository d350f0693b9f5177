"""Sandbox side of the slm wire family (MGEN, MGP, INTERIALE, MAGE, CAMIEG, MAEE).

``GET /regimes/{code}/slm/v2/beneficiaires/{nir}/droits?dateNaissance=&rang=&dateSoins=``
answers camelCase JSON; an unknown person and a bad request are RFC 9457 problem documents
(404 and 400). The format is specified in ``docs/wire/slm.md``; the adapter is ``regimes.slm``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from rights.catalogue import Regime
from rights.errors import IdentifierError
from rights.identifiers import parse_nir
from rights.model import Exoneration, MedecinTraitant, Period, RegimeRights, Situation
from sandbox.directory import Directory
from sandbox.wire.common import ISO_DAY, Endpoint, family_routes, iso_day

__all__ = [
    "API_VERSION",
    "PROBLEM_BAD_REQUEST",
    "PROBLEM_UNKNOWN_PERSON",
    "rights_to_payload",
    "routes",
]

API_VERSION = "2.3"
PROBLEM_UNKNOWN_PERSON = "urn:cdr:sandbox:slm:probleme:beneficiaire-inconnu"
PROBLEM_BAD_REQUEST = "urn:cdr:sandbox:slm:probleme:requete-invalide"

_PROBLEM = "application/problem+json"
_RANG = re.compile(r"[1-9][0-9]?")


def routes(regimes: Sequence[Regime], directory: Directory) -> list[BaseRoute]:
    """One rights resource per slm regime; regimes of other families are left to their wire."""
    return family_routes(
        regimes,
        directory,
        _droits_endpoint,
        family="slm",
        method="GET",
        path="/regimes/{code}/slm/v2/beneficiaires/{{nir}}/droits",
        name="slm-droits-{code}",
    )


class _BadParameter(Exception):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _droits_endpoint(regime: Regime, directory: Directory) -> Endpoint:
    async def droits(request: Request) -> Response:
        try:
            nir = _nir(request.path_params["nir"])
            birth_date = _birth_date(request.query_params.get("dateNaissance"))
            rang = _rang(request.query_params.get("rang"))
            date_of_care = _date_of_care(request.query_params.get("dateSoins"))
        except _BadParameter as exc:
            return _bad_request(exc)
        rights = directory.find(regime.code, nir, birth_date, rang)
        if rights is None:
            return _problem(
                404,
                PROBLEM_UNKNOWN_PERSON,
                "Bénéficiaire inconnu",
                f"{regime.label} ne connaît aucun bénéficiaire pour ce NIR, cette date de "
                "naissance et ce rang.",
                "SLM-404-01",
            )
        return JSONResponse(rights_to_payload(rights, regime, date_of_care))

    return droits


def _nir(text: str) -> str:
    try:
        return parse_nir(text).value
    except IdentifierError as exc:
        raise _BadParameter("nir", exc.message) from exc


def _birth_date(text: str | None) -> str | None:
    # Lunar birth dates (day or month 00, 31 February) are legal: shape only.
    if text is None:
        return None
    if not ISO_DAY.fullmatch(text):
        raise _BadParameter("dateNaissance", f"attendu AAAA-MM-JJ, reçu {text!r}")
    return text


def _rang(text: str | None) -> int | None:
    if text is None:
        return None
    if not _RANG.fullmatch(text):
        raise _BadParameter("rang", f"attendu un entier de 1 à 99, reçu {text!r}")
    return int(text)


def _date_of_care(text: str | None) -> date:
    if text is None:
        raise _BadParameter("dateSoins", "paramètre obligatoire")
    day = iso_day(text)
    if day is None:
        raise _BadParameter("dateSoins", f"attendu une date AAAA-MM-JJ, reçu {text!r}")
    return day


def _bad_request(exc: _BadParameter) -> Response:
    return _problem(
        400,
        PROBLEM_BAD_REQUEST,
        "Requête invalide",
        f"Paramètre {exc.name} invalide : {exc.reason}",
        "SLM-400-01",
        parametresInvalides=[{"nom": exc.name, "raison": exc.reason}],
    )


def _problem(
    status: int, type_: str, title: str, detail: str, code: str, **extensions: Any
) -> Response:
    # RFC 9457 §3: the five standard members, then this format's extension members.
    body = {"type": type_, "title": title, "status": status, "detail": detail, "code": code}
    return JSONResponse({**body, **extensions}, status_code=status, media_type=_PROBLEM)


def rights_to_payload(rights: RegimeRights, regime: Regime, date_of_care: date) -> dict[str, Any]:
    """The insurer's answer for ``rights``. AT/MP is not part of this family's format."""
    ben = rights.beneficiary
    od = rights.ouvrant_droit
    org = rights.organisation
    couvertures: list[dict[str, Any]] = [
        {
            "type": "AMO",
            "periode": _period(amo.period),
            "naturePieceJustificative": amo.nature_pj,
        }
        for amo in rights.amo
    ]
    couvertures += [_situation(s) for s in rights.situations]
    couvertures += [_exoneration("EXO", e) for e in rights.exonerations]
    couvertures += [_exoneration("MOD", m) for m in rights.modulations]
    return {
        "versionApi": API_VERSION,
        "dateSoins": date_of_care.isoformat(),
        "beneficiaire": {
            "nom": ben.family_name,
            "nomUsage": ben.usual_name,
            "prenoms": list(ben.given_names),
            "dateNaissance": ben.birth_date,
            "rangNaissance": ben.rang,
            "qualite": {"code": ben.qualite.value, "libelle": ben.qualite.label},
            "nirCertifie": ben.nir,
        },
        "assure": {"nom": od.family_name, "prenoms": list(od.given_names), "nir": od.nir},
        "organisme": {
            "regime": org.regime_code,
            "caisse": org.caisse,
            "centre": org.centre,
            "codeGestion": org.code_gestion,
            "libelle": regime.label,
        },
        "couvertures": couvertures,
        "medecinTraitant": _medecin(rights.medecin_traitant),
    }


def _period(period: Period) -> dict[str, str | None]:
    return {
        "debut": period.start.isoformat(),
        "fin": None if period.end is None else period.end.isoformat(),
    }


def _situation(situation: Situation) -> dict[str, Any]:
    kind = "AME" if situation.code == "10" else "C2S"
    return {"type": kind, "code": situation.code, "periode": _period(situation.period)}


def _exoneration(kind: str, exoneration: Exoneration) -> dict[str, Any]:
    return {"type": kind, "code": exoneration.code, "periode": _period(exoneration.period)}


def _medecin(medecin: MedecinTraitant | None) -> dict[str, Any] | None:
    if medecin is None:
        return None
    return {
        "nom": medecin.family_name,
        "prenom": medecin.given_name,
        "identifiant": medecin.identifier,
        "periode": _period(medecin.period),
    }
