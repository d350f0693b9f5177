"""The slm wire format (student and civil-servant mutual insurers): pure request building and
answer parsing. The format is specified in ``docs/wire/slm.md``.

The insurers answer ``GET /regimes/{code}/slm/v2/beneficiaires/{nir}/droits`` with camelCase JSON
blocks ``beneficiaire`` / ``assure`` / ``organisme`` / ``couvertures[]`` / ``medecinTraitant``;
an unknown person is a 404 RFC 9457 problem whose ``type`` is ``UNKNOWN_PERSON_TYPE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

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
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "UNKNOWN_PERSON_TYPE",
    "decode_json",
    "droits_path",
    "is_problem",
    "is_unknown_person",
    "payload_to_rights",
    "problem_summary",
    "query_to_params",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
UNKNOWN_PERSON_TYPE = "urn:cdr:sandbox:slm:probleme:beneficiaire-inconnu"

_C2S_CODES = frozenset({"1", "2", "3"})
_AME_CODE = "10"


# ---------------------------------------------------------------- request


def droits_path(regime_code: str, query: RightsQuery) -> str:
    """The resource path of the beneficiary's rights, relative to the sandbox base URL."""
    nir = quote(query.nir.value, safe="")
    return f"/regimes/{regime_code}/slm/v2/beneficiaires/{nir}/droits"


def query_to_params(query: RightsQuery) -> dict[str, str]:
    """The query-string parameters; ``dateNaissance`` is left out when the caller has none."""
    params = {"rang": str(query.rang), "dateSoins": query.date_of_care.isoformat()}
    if query.birth_date is not None:
        params["dateNaissance"] = query.birth_date
    return params


# ---------------------------------------------------------------- answers


def is_problem(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header announces an RFC 9457 problem document."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == PROBLEM_MEDIA_TYPE


def is_unknown_person(problem: object) -> bool:
    """Whether a 404 problem document says the insurer does not know the person.

    A 404 without this ``type`` means the URL is wrong, which the caller must not read as
    "unknown person" (discovery would then silently skip a misconfigured regime).
    """
    return isinstance(problem, Mapping) and problem.get("type") == UNKNOWN_PERSON_TYPE


def problem_summary(problem: object) -> str:
    """``title: detail (code)`` of a problem document, for error messages."""
    if not isinstance(problem, Mapping):
        return "no problem details"
    parts = [str(problem[k]) for k in ("title", "detail") if isinstance(problem.get(k), str)]
    code = problem.get("code")
    text = ": ".join(parts) or "no problem details"
    return f"{text} ({code})" if isinstance(code, str) else text


def payload_to_rights(payload: object, regime: str) -> RegimeRights:
    """Parse a 200 answer; ``regime`` is the catalogue code, recorded as ``cdr_regime``.

    Raises ``RegimeRejected`` naming the faulty field when the answer breaks the format.
    Unknown ``couvertures`` types are skipped: insurers may add types (the format is v2.x).
    """
    with malformed_as_rejected(regime, "slm"):
        return _rights(JsonObject(payload, "$"), regime)


def _rights(root: JsonObject, regime: str) -> RegimeRights:
    amo: list[AmoPeriod] = []
    situations: list[Situation] = []
    exonerations: list[Exoneration] = []
    modulations: list[Exoneration] = []
    for entry in root.objects("couvertures"):
        kind = entry.text("type")
        if kind == "AMO":
            nature = entry.code("naturePieceJustificative", NATURE_PJ)
            amo.append(AmoPeriod(period=_period(entry), nature_pj=nature))
        elif kind == "C2S":
            code = entry.text("code")
            if code not in _C2S_CODES:
                raise Malformed(entry.where("code"), f"C2S situation must be 1, 2 or 3: {code!r}")
            situations.append(Situation(code=code, period=_period(entry)))
        elif kind == "AME":
            code = entry.optional_text("code") or _AME_CODE
            if code != _AME_CODE:
                raise Malformed(entry.where("code"), f"AME situation must be 10: {code!r}")
            situations.append(Situation(code=code, period=_period(entry)))
        elif kind in ("EXO", "MOD"):
            item = Exoneration(code=entry.code("code", TM_CODE), period=_period(entry))
            (exonerations if kind == "EXO" else modulations).append(item)
    return RegimeRights(
        beneficiary=_beneficiary(root.obj("beneficiaire")),
        ouvrant_droit=_ouvrant_droit(root.obj("assure")),
        organisation=_organisation(root.obj("organisme"), regime),
        amo=tuple(amo),
        situations=tuple(situations),
        exonerations=tuple(exonerations),
        modulations=tuple(modulations),
        medecin_traitant=_medecin(root.optional_obj("medecinTraitant")),
    )


def _beneficiary(block: JsonObject) -> Beneficiary:
    qualite = block.obj("qualite").qualite("code")
    rang = block.integer("rangNaissance")
    if rang < 1:
        raise Malformed(block.where("rangNaissance"), f"rang must be 1 or more: {rang}")
    return Beneficiary(
        family_name=block.filled("nom"),
        given_names=block.texts("prenoms"),
        # Lunar dates (day or month out of range) are legal: checked for shape only.
        birth_date=block.code("dateNaissance", ISO_DAY),
        rang=rang,
        qualite=qualite,
        nir=block.optional_code("nirCertifie", NIR),
        usual_name=block.optional_text("nomUsage"),
    )


def _ouvrant_droit(block: JsonObject) -> OuvrantDroit:
    return OuvrantDroit(
        family_name=block.filled("nom"),
        given_names=block.texts("prenoms"),
        nir=block.code("nir", NIR),
    )


def _organisation(block: JsonObject, regime: str) -> ManagingOrganisation:
    return ManagingOrganisation(
        regime_code=block.code("regime", REGIME_CODE),
        caisse=block.code("caisse", CAISSE),
        centre=block.code("centre", CENTRE),
        code_gestion=block.code("codeGestion", CODE_GESTION),
        cdr_regime=regime,
    )


def _medecin(block: JsonObject | None) -> MedecinTraitant | None:
    if block is None:
        return None
    return MedecinTraitant(
        family_name=block.filled("nom"),
        given_name=block.text("prenom"),
        identifier=block.filled("identifiant"),
        period=_period(block),
    )


def _period(holder: JsonObject) -> Period:
    return holder.obj("periode").period("debut", "fin")
