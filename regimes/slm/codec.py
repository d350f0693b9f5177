"""The slm wire format (student and civil-servant mutual insurers): pure request building and
answer parsing. The format is specified in ``docs/wire/slm.md``.

The insurers answer ``GET /regimes/{code}/slm/v2/beneficiaires/{nir}/droits`` with camelCase JSON
blocks ``beneficiaire`` / ``assure`` / ``organisme`` / ``couvertures[]`` / ``medecinTraitant``;
an unknown person is a 404 RFC 9457 problem whose ``type`` is ``UNKNOWN_PERSON_TYPE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from urllib.parse import quote

from rights.errors import RegimeRejected
from rights.model import (
    AmoPeriod,
    Beneficiary,
    Exoneration,
    ManagingOrganisation,
    MedecinTraitant,
    OuvrantDroit,
    Period,
    Qualite,
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

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# NIR, NIA, MIG, NNP and MSA numbers share one layout; only Corsica puts letters in it.
_NIR = re.compile(r"[0-9]{5}(?:[0-9][0-9]|2A|2B)[0-9]{6}(?:[0-9][0-9])?")
_C2S_CODES = frozenset({"1", "2", "3"})
_AME_CODE = "10"


class _Malformed(Exception):
    """Internal: the answer breaks the format at ``where``; becomes ``RegimeRejected``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


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


def decode_json(body: bytes, regime: str) -> object:
    """The JSON document in ``body``; an unreadable body is a refusal, not an outage."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegimeRejected(f"{regime}: answer is not JSON ({exc})", regime=regime) from exc


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
    try:
        root = _Obj(payload, "$")
        return _rights(root, regime)
    except _Malformed as exc:
        raise RegimeRejected(f"{regime}: malformed slm answer at {exc}", regime=regime) from exc


def _rights(root: _Obj, regime: str) -> RegimeRights:
    amo: list[AmoPeriod] = []
    situations: list[Situation] = []
    exonerations: list[Exoneration] = []
    modulations: list[Exoneration] = []
    for entry in root.objects("couvertures"):
        kind = entry.text("type")
        if kind == "AMO":
            nature = entry.code("naturePieceJustificative", r"[0-9A-Z]{1,2}")
            amo.append(AmoPeriod(period=entry.period("periode"), nature_pj=nature))
        elif kind == "C2S":
            code = entry.text("code")
            if code not in _C2S_CODES:
                raise _Malformed(entry.where("code"), f"C2S situation must be 1, 2 or 3: {code!r}")
            situations.append(Situation(code=code, period=entry.period("periode")))
        elif kind == "AME":
            code = entry.optional_text("code") or _AME_CODE
            if code != _AME_CODE:
                raise _Malformed(entry.where("code"), f"AME situation must be 10: {code!r}")
            situations.append(Situation(code=code, period=entry.period("periode")))
        elif kind in ("EXO", "MOD"):
            item = Exoneration(
                code=entry.code("code", r"[0-9]{1,2}"), period=entry.period("periode")
            )
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


def _beneficiary(block: _Obj) -> Beneficiary:
    qualite = block.obj("qualite").text("code")
    try:
        parsed = Qualite(qualite)
    except ValueError:
        raise _Malformed(block.where("qualite.code"), f"not a qualité 00-09: {qualite!r}") from None
    rang = block.integer("rangNaissance")
    if rang < 1:
        raise _Malformed(block.where("rangNaissance"), f"rang must be 1 or more: {rang}")
    return Beneficiary(
        family_name=block.filled("nom"),
        given_names=block.names("prenoms"),
        # Lunar dates (day or month out of range) are legal: checked for shape only.
        birth_date=block.code("dateNaissance", _ISO_DAY.pattern),
        rang=rang,
        qualite=parsed,
        nir=block.optional_code("nirCertifie", _NIR.pattern),
        usual_name=block.optional_text("nomUsage"),
    )


def _ouvrant_droit(block: _Obj) -> OuvrantDroit:
    return OuvrantDroit(
        family_name=block.filled("nom"),
        given_names=block.names("prenoms"),
        nir=block.code("nir", _NIR.pattern),
    )


def _organisation(block: _Obj, regime: str) -> ManagingOrganisation:
    return ManagingOrganisation(
        regime_code=block.code("regime", r"[0-9]{2}"),
        caisse=block.code("caisse", r"[0-9]{3}"),
        centre=block.code("centre", r"[0-9]{4}"),
        code_gestion=block.code("codeGestion", r"[0-9A-Z]{1,3}"),
        cdr_regime=regime,
    )


def _medecin(block: _Obj | None) -> MedecinTraitant | None:
    if block is None:
        return None
    return MedecinTraitant(
        family_name=block.filled("nom"),
        given_name=block.text("prenom"),
        identifier=block.filled("identifiant"),
        period=block.period("periode"),
    )


class _Obj:
    """A JSON object being read, with its path for error messages."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise _Malformed(path, f"expected an object, got {_kind(value)}")
        self._data: dict[str, object] = value
        self._path = path

    def where(self, key: str) -> str:
        return f"{self._path}.{key}"

    def _get(self, key: str) -> object:
        if key not in self._data:
            raise _Malformed(self.where(key), "missing")
        return self._data[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise _Malformed(self.where(key), f"expected a string, got {_kind(value)}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def filled(self, key: str) -> str:
        value = self.text(key)
        if not value.strip():
            raise _Malformed(self.where(key), "empty")
        return value

    def code(self, key: str, pattern: str) -> str:
        value = self.text(key)
        if not re.fullmatch(pattern, value):
            raise _Malformed(self.where(key), f"{value!r} does not match {pattern}")
        return value

    def optional_code(self, key: str, pattern: str) -> str | None:
        return None if self._data.get(key) is None else self.code(key, pattern)

    def names(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Malformed(self.where(key), f"expected a list of strings, got {_kind(value)}")
        return tuple(str(v) for v in value)

    def integer(self, key: str) -> int:
        value = self._get(key)
        # JSON true is a Python int: refuse it explicitly.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Malformed(self.where(key), f"expected an integer, got {_kind(value)}")
        return value

    def obj(self, key: str) -> _Obj:
        return _Obj(self._get(key), self.where(key))

    def optional_obj(self, key: str) -> _Obj | None:
        return None if self._data.get(key) is None else self.obj(key)

    def objects(self, key: str) -> list[_Obj]:
        value = self._get(key)
        if not isinstance(value, list):
            raise _Malformed(self.where(key), f"expected a list, got {_kind(value)}")
        return [_Obj(item, f"{self.where(key)}[{i}]") for i, item in enumerate(value)]

    def day(self, key: str) -> date:
        value = self.text(key)
        try:
            # fromisoformat alone also takes 20240101 and week dates; the format says YYYY-MM-DD.
            if _ISO_DAY.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise _Malformed(self.where(key), f"not a date YYYY-MM-DD: {value!r}")

    def optional_day(self, key: str) -> date | None:
        return None if self._data.get(key) is None else self.day(key)

    def period(self, key: str) -> Period:
        block = self.obj(key)
        start = block.day("debut")
        end = block.optional_day("fin")
        if end is not None and end < start:
            raise _Malformed(block.where("fin"), f"period ends ({end}) before it starts ({start})")
        return Period(start=start, end=end)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
