"""The cnam wire format: JSON entity blocks shaped like CDRi 03.01-03.10 (docs/wire/cnam.md).

Pure: builds the request body from a ``RightsQuery`` and reads a response body into
``RegimeRights`` (or None for an unknown person). A body that does not follow the format raises
``RegimeRejected`` naming the JSON path at fault, since a regime payload is untrusted input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date

import orjson

from regimes import cdri
from regimes.payload import ACCIDENT_NUMBER, SITUATION_CODE, TM_CODE, decode_json
from rights.errors import RegimeRejected
from rights.model import (
    AccidentDeclaration,
    AmoPeriod,
    Beneficiary,
    Exoneration,
    MedecinTraitant,
    OuvrantDroit,
    Period,
    RegimeRights,
    RightsQuery,
    Situation,
)

__all__ = [
    "STATUS_FOUND",
    "STATUS_UNKNOWN",
    "build_request",
    "error_message",
    "parse_response",
]

STATUS_FOUND = "TROUVE"
STATUS_UNKNOWN = "INCONNU"

_DAY = re.compile(r"[0-9]{8}")


def _wire_day(day: date) -> str:
    return day.strftime("%Y%m%d")


def build_request(query: RightsQuery) -> bytes:
    """The body of ``POST /regimes/{code}/cdri/v1/consultations`` for ``query``."""
    identification: dict[str, object] = {"nir": query.nir.value}
    if query.birth_date is not None:
        # Kept digit for digit: a lunar birth date (day or month 00) is sent as on the card.
        identification["dateNaissance"] = query.birth_date.replace("-", "")
    identification["rangNaissance"] = query.rang
    payload = {"identification": identification, "dateReference": _wire_day(query.date_of_care)}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class _Block:
    """A JSON object of the answer, with its path for error messages."""

    def __init__(self, data: Mapping[str, object], path: str, regime: str) -> None:
        self._data = data
        self._path = path
        self._regime = regime

    def error(self, key: str, what: str) -> RegimeRejected:
        where = f"{self._path}.{key}" if self._path else key
        return RegimeRejected(
            f"{self._regime}: malformed answer at {where}: {what}", regime=self._regime
        )

    def _get(self, key: str) -> object:
        if key not in self._data:
            raise self.error(key, "missing")
        return self._data[key]

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {type(value).__name__}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def code(self, key: str, pattern: re.Pattern[str]) -> str:
        value = self.text(key)
        if not pattern.fullmatch(value):
            raise self.error(key, f"{value!r} does not match {pattern.pattern}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of strings")
        return tuple(str(v) for v in value)

    def integer(self, key: str) -> int:
        value = self._get(key)
        # bool is an int subclass in Python, but never a rang.
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"expected an integer, got {type(value).__name__}")
        return value

    def day(self, key: str) -> date:
        value = self.text(key)
        if not _DAY.fullmatch(value):
            raise self.error(key, f"expected a date YYYYMMDD, got {value!r}")
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError as exc:
            raise self.error(key, f"{value!r} is not a date ({exc})") from exc

    def optional_day(self, key: str) -> date | None:
        return None if self._data.get(key) is None else self.day(key)

    def block(self, key: str) -> _Block:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self.error(key, "expected an object")
        return _Block(value, f"{self._path}.{key}" if self._path else key, self._regime)

    def optional_block(self, key: str) -> _Block | None:
        return None if self._data.get(key) is None else self.block(key)

    def blocks(self, key: str) -> list[_Block]:
        """A list of objects; an absent or null list is an empty one."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "expected a list")
        items: list[_Block] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", "expected an object")
            where = f"{self._path}.{key}[{index}]" if self._path else f"{key}[{index}]"
            items.append(_Block(item, where, self._regime))
        return items


def _root(payload: bytes, regime: str) -> _Block:
    data = decode_json(payload, regime)
    if not isinstance(data, dict):
        raise RegimeRejected(f"{regime}: answer is not a JSON object", regime=regime)
    return _Block(data, "", regime)


def parse_response(payload: bytes, regime: str) -> RegimeRights | None:
    """The rights in a 200 answer, or None when its status says the person is unknown.

    ``regime`` is the catalogue code: it names the regime in errors and becomes
    ``ManagingOrganisation.cdr_regime`` (the wire does not carry it).
    """
    root = _root(payload, regime)
    status = root.block("statut").text("code")
    if status == STATUS_UNKNOWN:
        return None
    if status != STATUS_FOUND:
        raise root.error("statut.code", f"unexpected status {status!r}")
    organisation = root.block("organisme")
    return RegimeRights(
        beneficiary=_beneficiary(root.block("beneficiaire")),
        ouvrant_droit=_ouvrant_droit(root.block("assure")),
        organisation=cdri.organisation(organisation, regime),
        amo=tuple(_amo_period(b) for b in organisation.blocks("periodesDroits")),
        situations=tuple(
            Situation(code=b.code("codeSituation", SITUATION_CODE), period=_period(b))
            for b in root.blocks("situations")
        ),
        exonerations=tuple(
            Exoneration(code=b.code("codeEtm", TM_CODE), period=_period(b))
            for b in root.blocks("exonerations")
        ),
        modulations=tuple(
            Exoneration(code=b.code("codeMtm", TM_CODE), period=_period(b))
            for b in root.blocks("modulations")
        ),
        medecin_traitant=_medecin_traitant(root.optional_block("medecinTraitant")),
        default_at_organisation=_default_at_organisation(root.optional_block("organismeAtDefaut")),
        accidents=tuple(_accident(b) for b in root.blocks("accidentsTravail")),
    )


def _period(holder: _Block) -> Period:
    return cdri.period(holder.block("periode"))


def _birth_date(block: _Block) -> str:
    # Not checked as a calendar date: lunar dates (day or month 00) are valid birth dates.
    value = block.code("dateNaissance", _DAY)
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _beneficiary(block: _Block) -> Beneficiary:
    qualite = cdri.qualite(block)
    rang = block.integer("rangNaissance")
    if rang < 1:
        raise block.error("rangNaissance", f"expected 1 or more, got {rang}")
    return Beneficiary(
        family_name=block.text("nomFamille"),
        given_names=block.texts("prenoms"),
        birth_date=_birth_date(block),
        rang=rang,
        qualite=qualite,
        nir=block.optional_text("nirCertifie"),
        usual_name=block.optional_text("nomUsuel"),
    )


def _ouvrant_droit(block: _Block) -> OuvrantDroit:
    return OuvrantDroit(
        family_name=block.text("nomFamille"),
        given_names=block.texts("prenoms"),
        nir=block.text("nir"),
    )


def _amo_period(block: _Block) -> AmoPeriod:
    return AmoPeriod(period=_period(block), nature_pj=block.text("naturePieceJustificative"))


def _medecin_traitant(block: _Block | None) -> MedecinTraitant | None:
    if block is None:
        return None
    return MedecinTraitant(
        family_name=block.text("nom"),
        given_name=block.text("prenom"),
        identifier=block.text("numeroAssuranceMaladie"),
        period=_period(block),
    )


def _default_at_organisation(block: _Block | None) -> str | None:
    return None if block is None else block.text("organisme")


def _accident(block: _Block) -> AccidentDeclaration:
    # The key is the domain's to judge (rights.identifiers); the wire only promises 9 digits.
    return AccidentDeclaration(
        number=block.code("numero", ACCIDENT_NUMBER),
        organisation=block.text("organisme"),
        period=_period(block),
    )


def error_message(payload: bytes, regime: str) -> str:
    """A readable message from a coded error body (``{"erreur": {...}}``), or its first bytes.

    Used for a 400 answer, which is always turned into ``RegimeRejected``: an unreadable
    error body must not hide that status, so this never raises.
    """
    try:
        data = orjson.loads(payload)
        error = data["erreur"]
        code, label = str(error["code"]), str(error.get("libelle", ""))
        field = error.get("champ")
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        snippet = payload[:200].decode("utf-8", errors="replace").strip()
        return f"{regime}: request refused (HTTP 400): {snippet}"
    where = f" at {field}" if field else ""
    return f"{regime}: request refused ({code}{where}): {label}"
