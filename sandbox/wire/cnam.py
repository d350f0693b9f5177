"""The sandbox side of the cnam wire family: CDRi-shaped JSON consultations (docs/wire/cnam.md).

The sandbox plays the regime service, so this module reads the request and renders the answer
on its own, without the adapter's codec: the round-trip tests then check two independent
readings of the same spec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from rights.catalogue import Regime
from rights.errors import IdentifierError
from rights.identifiers import parse_nir
from rights.model import Exoneration, Period, RegimeRights
from sandbox.directory import Directory
from sandbox.wire.common import BadRequest, Endpoint, family_routes

__all__ = ["routes"]

_DAY = re.compile(r"[0-9]{8}")


def routes(regimes: Sequence[Regime], directory: Directory) -> list[BaseRoute]:
    """``POST /regimes/{code}/cdri/v1/consultations`` for each cnam-family regime given."""
    return family_routes(
        regimes,
        directory,
        _consultation,
        family="cnam",
        method="POST",
        path="/regimes/{code}/cdri/v1/consultations",
    )


@dataclass(frozen=True, slots=True)
class _Consultation:
    nir: str
    birth_date: str | None
    rang: int | None
    reference_day: str


def _consultation(regime: Regime, directory: Directory) -> Endpoint:
    code = regime.code

    async def consult(request: Request) -> Response:
        try:
            consultation = _read_request(await request.body())
        except BadRequest as bad:
            error = {"code": bad.code, "libelle": bad.label, "champ": bad.field}
            return JSONResponse({"erreur": error}, status_code=400)
        rights = directory.find(code, consultation.nir, consultation.birth_date, consultation.rang)
        if rights is None:
            return JSONResponse(_unknown(consultation.reference_day))
        return JSONResponse(_found(rights, consultation.reference_day))

    return consult


def _read_request(body: bytes) -> _Consultation:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("REQUETE_INVALIDE", "", f"le corps n'est pas du JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadRequest("REQUETE_INVALIDE", "", "le corps doit être un objet JSON")
    identification = data.get("identification")
    if not isinstance(identification, dict):
        raise BadRequest("REQUETE_INVALIDE", "identification", "objet attendu")
    nir = identification.get("nir")
    if not isinstance(nir, str):
        raise BadRequest("REQUETE_INVALIDE", "identification.nir", "chaîne attendue")
    try:
        checked = parse_nir(nir)
    except IdentifierError as exc:
        raise BadRequest("NIR_INVALIDE", "identification.nir", exc.message) from exc
    return _Consultation(
        nir=checked.value,
        birth_date=_birth_date(identification.get("dateNaissance")),
        rang=_rang(identification.get("rangNaissance")),
        reference_day=_reference_day(data.get("dateReference")),
    )


def _birth_date(value: object) -> str | None:
    if value is None:
        return None
    # Lunar birth dates (day or month 00) are legal: only the shape is checked.
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise BadRequest("REQUETE_INVALIDE", "identification.dateNaissance", "AAAAMMJJ attendu")
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _rang(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest("REQUETE_INVALIDE", "identification.rangNaissance", "entier >= 1 attendu")
    return value


def _reference_day(value: object) -> str:
    field = "dateReference"
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise BadRequest("REQUETE_INVALIDE", field, "date AAAAMMJJ attendue")
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise BadRequest("REQUETE_INVALIDE", field, f"date inexistante ({exc})") from exc
    return value


def _unknown(reference_day: str) -> dict[str, object]:
    return {
        "statut": {"code": "INCONNU", "libelle": "Aucun bénéficiaire ne correspond"},
        "dateReference": reference_day,
    }


def _day(day: date) -> str:
    return day.strftime("%Y%m%d")


def _period(period: Period) -> dict[str, object]:
    block: dict[str, object] = {"dateDebut": _day(period.start)}
    if period.end is not None:
        block["dateFin"] = _day(period.end)
    return block


def _coded(codes: Sequence[Exoneration], key: str) -> list[dict[str, object]]:
    return [{key: item.code, "periode": _period(item.period)} for item in codes]


def _found(rights: RegimeRights, reference_day: str) -> dict[str, object]:
    beneficiary, ouvrant, organisation = (
        rights.beneficiary,
        rights.ouvrant_droit,
        rights.organisation,
    )
    answer: dict[str, object] = {
        "statut": {"code": "TROUVE", "libelle": "Bénéficiaire trouvé"},
        "dateReference": reference_day,
        "beneficiaire": {
            "nomFamille": beneficiary.family_name,
            "nomUsuel": beneficiary.usual_name,
            "prenoms": list(beneficiary.given_names),
            "dateNaissance": beneficiary.birth_date.replace("-", ""),
            "rangNaissance": beneficiary.rang,
            "qualite": beneficiary.qualite.value,
            "nirCertifie": beneficiary.nir,
        },
        "assure": {
            "nir": ouvrant.nir,
            "nomFamille": ouvrant.family_name,
            "prenoms": list(ouvrant.given_names),
        },
        "organisme": {
            "codeRegime": organisation.regime_code,
            "caisse": organisation.caisse,
            "centre": organisation.centre,
            "codeGestion": organisation.code_gestion,
            "periodesDroits": [
                {"periode": _period(amo.period), "naturePieceJustificative": amo.nature_pj}
                for amo in rights.amo
            ],
        },
        "exonerations": _coded(rights.exonerations, "codeEtm"),
        "modulations": _coded(rights.modulations, "codeMtm"),
        "situations": [
            {"codeSituation": s.code, "periode": _period(s.period)} for s in rights.situations
        ],
        "accidentsTravail": [
            {"numero": a.number, "organisme": a.organisation, "periode": _period(a.period)}
            for a in rights.accidents
        ],
    }
    if rights.medecin_traitant is not None:
        doctor = rights.medecin_traitant
        answer["medecinTraitant"] = {
            "nom": doctor.family_name,
            "prenom": doctor.given_name,
            "numeroAssuranceMaladie": doctor.identifier,
            "periode": _period(doctor.period),
        }
    if rights.default_at_organisation is not None:
        answer["organismeAtDefaut"] = {"organisme": rights.default_at_organisation}
    return answer
