"""Sandbox side of the special wire family (CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF,
CCAS RATP, Assemblée nationale, Sénat).

``POST /regimes/{code}/droits`` with ``{"nir", "date_naissance", "rang", "date_soins"}`` answers
one flat snake_case object, ``{"trouve": false, ...}`` for an unknown person; a bad request is a
422 ``{"erreur", "message", "champ"}``. The format is specified in ``docs/wire/special.md``; the
adapter is ``regimes.special``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from rights.catalogue import Regime
from rights.errors import IdentifierError
from rights.identifiers import parse_nir
from rights.model import Exoneration, Period, RegimeRights
from sandbox.directory import Directory
from sandbox.wire.common import ISO_DAY, BadRequest, Endpoint, family_routes, iso_day

__all__ = ["CONTRACT_REGIMES", "rights_to_payload", "routes"]

# Only the CPRP SNCF keeps a "contrat particulier" (CDRi 03.05).
CONTRACT_REGIMES = frozenset({"cprpf"})


def routes(regimes: Sequence[Regime], directory: Directory) -> list[BaseRoute]:
    """One rights endpoint per special regime; regimes of other families are left to their wire."""
    return family_routes(
        regimes,
        directory,
        _droits_endpoint,
        family="special",
        method="POST",
        path="/regimes/{code}/droits",
        name="special-droits-{code}",
    )


def _droits_endpoint(regime: Regime, directory: Directory) -> Endpoint:
    async def droits(request: Request) -> Response:
        try:
            fields = _request_fields(await request.body())
        except BadRequest as exc:
            body = {"erreur": exc.code, "message": exc.label, "champ": exc.field}
            return JSONResponse(body, status_code=422)
        nir, birth_date, rang, date_of_care = fields
        rights = directory.find(regime.code, nir, birth_date, rang)
        if rights is None:
            return JSONResponse(
                {
                    "trouve": False,
                    "date_soins": date_of_care.isoformat(),
                    "message": f"aucun assuré ni ayant droit {regime.label} pour cette demande",
                }
            )
        return JSONResponse(rights_to_payload(rights, regime, date_of_care))

    return droits


def _request_fields(raw: bytes) -> tuple[str, str | None, int | None, date]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("CORPS_INVALIDE", "", "le corps doit être un objet JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("CORPS_INVALIDE", "", "le corps doit être un objet JSON")
    return (
        _nir(body.get("nir")),
        _birth_date(body.get("date_naissance")),
        _rang(body.get("rang")),
        _date_of_care(body.get("date_soins")),
    )


def _nir(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("NIR_ABSENT", "nir", "nir est obligatoire (chaîne de 13 ou 15 caractères)")
    try:
        return parse_nir(value).value
    except IdentifierError as exc:
        raise BadRequest("NIR_INVALIDE", "nir", exc.message) from exc


def _birth_date(value: object) -> str | None:
    # Lunar birth dates (day or month 00, 31 February) are legal: shape only.
    if value is None:
        return None
    if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
        raise BadRequest(
            "DATE_NAISSANCE_INVALIDE", "date_naissance", f"attendu AAAA-MM-JJ, reçu {value!r}"
        )
    return value


def _rang(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 99:
        raise BadRequest("RANG_INVALIDE", "rang", f"attendu un entier de 1 à 99, reçu {value!r}")
    return value


def _date_of_care(value: object) -> date:
    if value is None:
        raise BadRequest("DATE_SOINS_ABSENTE", "date_soins", "date_soins est obligatoire")
    day = iso_day(value)
    if day is None:
        raise BadRequest("DATE_SOINS_INVALIDE", "date_soins", f"attendu AAAA-MM-JJ, reçu {value!r}")
    return day


def rights_to_payload(rights: RegimeRights, regime: Regime, date_of_care: date) -> dict[str, Any]:
    """The regime's flat answer for ``rights``. AT/MP is not part of this family's format."""
    ben = rights.beneficiary
    od = rights.ouvrant_droit
    org = rights.organisation
    payload: dict[str, Any] = {
        "trouve": True,
        "date_soins": date_of_care.isoformat(),
        "nom": ben.family_name,
        "nom_usage": ben.usual_name,
        "prenoms": list(ben.given_names),
        "date_naissance": ben.birth_date,
        "rang": ben.rang,
        "qualite": ben.qualite.value,
        "nir_certifie": ben.nir,
        "assure_nom": od.family_name,
        "assure_prenoms": list(od.given_names),
        "assure_nir": od.nir,
        "regime": org.regime_code,
        "caisse": org.caisse,
        "centre": org.centre,
        "code_gestion": org.code_gestion,
        "periodes": [{**_period(a.period), "nature_pj": a.nature_pj} for a in rights.amo],
        "situations": [{"code": s.code, **_period(s.period)} for s in rights.situations],
        "exonerations": [_exoneration(e) for e in rights.exonerations],
        "modulations": [_exoneration(m) for m in rights.modulations],
    }
    mt = rights.medecin_traitant
    if mt is not None:
        payload |= {
            "mt_nom": mt.family_name,
            "mt_prenom": mt.given_name,
            "mt_identifiant": mt.identifier,
            **_period(mt.period, "mt_"),
        }
    contract = rights.sncf_contract
    if contract is not None and regime.code in CONTRACT_REGIMES and contract.codes:
        payload |= {
            "contrat_particulier": contract.codes[0],
            "contrat_complements": list(contract.codes[1:]),
            **_period(contract.period, "contrat_"),
        }
    return payload


def _period(period: Period, prefix: str = "") -> dict[str, str | None]:
    return {
        f"{prefix}date_debut": period.start.isoformat(),
        f"{prefix}date_fin": None if period.end is None else period.end.isoformat(),
    }


def _exoneration(exoneration: Exoneration) -> dict[str, Any]:
    return {"code": exoneration.code, **_period(exoneration.period)}
