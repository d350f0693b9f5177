"""The special wire format (CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF, CCAS RATP,
Assemblée nationale, Sénat): pure request building and answer parsing.

The regimes answer ``POST /regimes/{code}/droits`` with one flat snake_case JSON object:
``{"trouve": false}`` for an unknown person, else the beneficiary's fields side by side plus the
lists ``periodes``, ``situations``, ``exonerations``, ``modulations``. The format is specified
in ``docs/wire/special.md``.
"""

from __future__ import annotations

import re
from typing import Any

from regimes.payload import (
    CAISSE,
    CENTRE,
    CODE_GESTION,
    ISO_DAY,
    NATURE_PJ,
    NIR,
    REGIME_CODE,
    TM_CODE,
    JsonObject,
    Malformed,
    decode_json,
    encode_json,
    malformed_as_rejected,
)
from rights.model import (
    AmoPeriod,
    Beneficiary,
    Exoneration,
    ManagingOrganisation,
    MedecinTraitant,
    OuvrantDroit,
    Period,
    RegimeRights,
    RightsQuery,
    Situation,
    SncfContract,
)

__all__ = [
    "decode_json",
    "droits_path",
    "encode_json",
    "error_summary",
    "payload_to_rights",
    "query_to_body",
]

# The codes of regimes.payload.SITUATION_CODE in this wire's own spelling, which its error
# messages quote ("'4' does not match [123]|10").
_SITUATION_CODE = re.compile(r"[123]|10")
# CPRP SNCF contrat particulier: one main code 18-21, then 0..n complements 22-25.
_CONTRACT_MAIN = re.compile(r"1[89]|2[01]")
_CONTRACT_COMPLEMENT = re.compile(r"2[2-5]")


# ---------------------------------------------------------------- request


def droits_path(regime_code: str) -> str:
    """The rights endpoint of a regime, relative to the sandbox base URL."""
    return f"/regimes/{regime_code}/droits"


def query_to_body(query: RightsQuery) -> dict[str, Any]:
    """The JSON request body; ``date_naissance`` is left out when the caller has none."""
    body: dict[str, Any] = {"nir": query.nir.value}
    if query.birth_date is not None:
        body["date_naissance"] = query.birth_date
    body["rang"] = query.rang
    body["date_soins"] = query.date_of_care.isoformat()
    return body


# ---------------------------------------------------------------- answers


def error_summary(payload: object) -> str:
    """``erreur: message`` of a 422 error document, for error messages."""
    if not isinstance(payload, dict):
        return "no error details"
    parts = [str(payload[k]) for k in ("erreur", "message") if isinstance(payload.get(k), str)]
    return ": ".join(parts) or "no error details"


def payload_to_rights(payload: object, regime: str) -> RegimeRights | None:
    """Parse a 200 answer: None for ``"trouve": false``, else the rights.

    ``regime`` is the catalogue code, recorded as ``cdr_regime``. Raises ``RegimeRejected``
    naming the faulty field when the answer breaks the format.
    """
    with malformed_as_rejected(regime, "special"):
        root = JsonObject(payload, "$")
        found = root.value("trouve")
        if not isinstance(found, bool):
            raise Malformed(root.where("trouve"), "expected true or false")
        return _rights(root, regime) if found else None


def _rights(root: JsonObject, regime: str) -> RegimeRights:
    situations = [
        Situation(code=item.code("code", _SITUATION_CODE), period=_period(item))
        for item in root.objects("situations", optional=True)
    ]
    return RegimeRights(
        beneficiary=Beneficiary(
            family_name=root.filled("nom"),
            given_names=root.texts("prenoms"),
            # Lunar dates (day or month out of range) are legal: checked for shape only.
            birth_date=root.code("date_naissance", ISO_DAY),
            rang=_rang(root, "rang"),
            qualite=root.qualite("qualite"),
            nir=root.optional_code("nir_certifie", NIR),
            usual_name=root.optional_text("nom_usage"),
        ),
        ouvrant_droit=OuvrantDroit(
            family_name=root.filled("assure_nom"),
            given_names=root.texts("assure_prenoms"),
            nir=root.code("assure_nir", NIR),
        ),
        organisation=ManagingOrganisation(
            regime_code=root.code("regime", REGIME_CODE),
            caisse=root.code("caisse", CAISSE),
            centre=root.code("centre", CENTRE),
            code_gestion=root.code("code_gestion", CODE_GESTION),
            cdr_regime=regime,
        ),
        amo=tuple(
            AmoPeriod(period=_period(item), nature_pj=item.code("nature_pj", NATURE_PJ))
            for item in root.objects("periodes")
        ),
        situations=tuple(situations),
        exonerations=_exonerations(root, "exonerations"),
        modulations=_exonerations(root, "modulations"),
        medecin_traitant=_medecin(root),
        sncf_contract=_contract(root),
    )


def _exonerations(root: JsonObject, key: str) -> tuple[Exoneration, ...]:
    return tuple(
        Exoneration(code=item.code("code", TM_CODE), period=_period(item))
        for item in root.objects(key, optional=True)
    )


def _medecin(root: JsonObject) -> MedecinTraitant | None:
    # The mt_* fields come together; mt_identifiant says whether there is a médecin traitant.
    if root.optional_text("mt_identifiant") is None:
        return None
    return MedecinTraitant(
        family_name=root.filled("mt_nom"),
        given_name=root.text("mt_prenom"),
        identifier=root.filled("mt_identifiant"),
        period=_period(root, "mt_"),
    )


def _contract(root: JsonObject) -> SncfContract | None:
    main = root.optional_code("contrat_particulier", _CONTRACT_MAIN)
    if main is None:
        return None
    complements = root.texts("contrat_complements", optional=True)
    for i, code in enumerate(complements):
        if not _CONTRACT_COMPLEMENT.fullmatch(code):
            raise Malformed(root.where(f"contrat_complements[{i}]"), f"not 22-25: {code!r}")
    return SncfContract(codes=(main, *complements), period=_period(root, "contrat_"))


def _period(holder: JsonObject, prefix: str = "") -> Period:
    """The period in ``{prefix}date_debut`` / ``{prefix}date_fin`` (null = open-ended)."""
    return holder.period(f"{prefix}date_debut", f"{prefix}date_fin")


def _rang(holder: JsonObject, key: str) -> int:
    value = holder.value(key)
    # JSON true is a Python int: refuse it explicitly.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Malformed(holder.where(key), f"expected an integer from 1, got {value!r}")
    return value
