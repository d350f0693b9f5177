"""The special wire format (CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF, CCAS RATP,
Assemblée nationale, Sénat): pure request building and answer parsing.

The regimes answer ``POST /regimes/{code}/droits`` with one flat snake_case JSON object:
``{"trouve": false}`` for an unknown person, else the beneficiary's fields side by side plus the
lists ``periodes``, ``situations``, ``exonerations``, ``modulations``. The format is specified
in ``docs/wire/special.md``.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

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
    SncfContract,
)

__all__ = ["decode_json", "droits_path", "error_summary", "payload_to_rights", "query_to_body"]

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# NIR, NIA, MIG, NNP and MSA numbers share one layout; only Corsica puts letters in it.
_NIR = r"[0-9]{5}(?:[0-9][0-9]|2A|2B)[0-9]{6}(?:[0-9][0-9])?"
# C2S 1/2 (managed by the caisse) or 3 (by a complementary body); AME 10.
_SITUATION_CODE = r"[123]|10"
# CPRP SNCF contrat particulier: one main code 18-21, then 0..n complements 22-25.
_CONTRACT_MAIN = r"1[89]|2[01]"
_CONTRACT_COMPLEMENT = r"2[2-5]"


class _Malformed(Exception):
    """Internal: the answer breaks the format at ``where``; becomes ``RegimeRejected``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


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


def decode_json(body: bytes, regime: str) -> object:
    """The JSON document in ``body``; an unreadable body is a refusal, not an outage."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegimeRejected(f"{regime}: answer is not JSON ({exc})", regime=regime) from exc


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
    try:
        root = _Flat(payload, "$")
        found = root.value("trouve")
        if not isinstance(found, bool):
            raise _Malformed(root.where("trouve"), "expected true or false")
        return _rights(root, regime) if found else None
    except _Malformed as exc:
        raise RegimeRejected(f"{regime}: malformed special answer at {exc}", regime=regime) from exc


def _rights(root: _Flat, regime: str) -> RegimeRights:
    situations = [
        Situation(code=item.code("code", _SITUATION_CODE), period=item.period())
        for item in root.objects("situations", optional=True)
    ]
    return RegimeRights(
        beneficiary=Beneficiary(
            family_name=root.filled("nom"),
            given_names=root.texts("prenoms"),
            # Lunar dates (day or month out of range) are legal: checked for shape only.
            birth_date=root.code("date_naissance", _ISO_DAY.pattern),
            rang=root.rang("rang"),
            qualite=root.qualite("qualite"),
            nir=root.optional_code("nir_certifie", _NIR),
            usual_name=root.optional_text("nom_usage"),
        ),
        ouvrant_droit=OuvrantDroit(
            family_name=root.filled("assure_nom"),
            given_names=root.texts("assure_prenoms"),
            nir=root.code("assure_nir", _NIR),
        ),
        organisation=ManagingOrganisation(
            regime_code=root.code("regime", r"[0-9]{2}"),
            caisse=root.code("caisse", r"[0-9]{3}"),
            centre=root.code("centre", r"[0-9]{4}"),
            code_gestion=root.code("code_gestion", r"[0-9A-Z]{1,3}"),
            cdr_regime=regime,
        ),
        amo=tuple(
            AmoPeriod(period=item.period(), nature_pj=item.code("nature_pj", r"[0-9A-Z]{1,2}"))
            for item in root.objects("periodes")
        ),
        situations=tuple(situations),
        exonerations=_exonerations(root, "exonerations"),
        modulations=_exonerations(root, "modulations"),
        medecin_traitant=_medecin(root),
        sncf_contract=_contract(root),
    )


def _exonerations(root: _Flat, key: str) -> tuple[Exoneration, ...]:
    return tuple(
        Exoneration(code=item.code("code", r"[0-9]{1,2}"), period=item.period())
        for item in root.objects(key, optional=True)
    )


def _medecin(root: _Flat) -> MedecinTraitant | None:
    # The mt_* fields come together; mt_identifiant says whether there is a médecin traitant.
    if root.optional_text("mt_identifiant") is None:
        return None
    return MedecinTraitant(
        family_name=root.filled("mt_nom"),
        given_name=root.text("mt_prenom"),
        identifier=root.filled("mt_identifiant"),
        period=root.period("mt_"),
    )


def _contract(root: _Flat) -> SncfContract | None:
    main = root.optional_code("contrat_particulier", _CONTRACT_MAIN)
    if main is None:
        return None
    complements = root.texts("contrat_complements", optional=True)
    for i, code in enumerate(complements):
        if not re.fullmatch(_CONTRACT_COMPLEMENT, code):
            raise _Malformed(root.where(f"contrat_complements[{i}]"), f"not 22-25: {code!r}")
    return SncfContract(codes=(main, *complements), period=root.period("contrat_"))


class _Flat:
    """A flat JSON object being read, with its path for error messages."""

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise _Malformed(path, f"expected an object, got {_kind(value)}")
        self._data: dict[str, object] = value
        self._path = path

    def where(self, key: str) -> str:
        return f"{self._path}.{key}"

    def value(self, key: str) -> object:
        if key not in self._data:
            raise _Malformed(self.where(key), "missing")
        return self._data[key]

    def absent(self, key: str) -> bool:
        return self._data.get(key) is None

    def text(self, key: str) -> str:
        value = self.value(key)
        if not isinstance(value, str):
            raise _Malformed(self.where(key), f"expected a string, got {_kind(value)}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.absent(key) else self.text(key)

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
        return None if self.absent(key) else self.code(key, pattern)

    def texts(self, key: str, *, optional: bool = False) -> tuple[str, ...]:
        if optional and self.absent(key):
            return ()
        value = self.value(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Malformed(self.where(key), f"expected a list of strings, got {_kind(value)}")
        return tuple(str(v) for v in value)

    def rang(self, key: str) -> int:
        value = self.value(key)
        # JSON true is a Python int: refuse it explicitly.
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _Malformed(self.where(key), f"expected an integer from 1, got {value!r}")
        return value

    def qualite(self, key: str) -> Qualite:
        value = self.text(key)
        try:
            return Qualite(value)
        except ValueError:
            raise _Malformed(self.where(key), f"not a qualité 00-09: {value!r}") from None

    def objects(self, key: str, *, optional: bool = False) -> list[_Flat]:
        if optional and self.absent(key):
            return []
        value = self.value(key)
        if not isinstance(value, list):
            raise _Malformed(self.where(key), f"expected a list, got {_kind(value)}")
        return [_Flat(item, f"{self.where(key)}[{i}]") for i, item in enumerate(value)]

    def day(self, key: str) -> date:
        value = self.text(key)
        try:
            # fromisoformat alone also takes 20240101 and week dates; the format says YYYY-MM-DD.
            if _ISO_DAY.fullmatch(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise _Malformed(self.where(key), f"not a date YYYY-MM-DD: {value!r}")

    def period(self, prefix: str = "") -> Period:
        """The period in ``{prefix}date_debut`` / ``{prefix}date_fin`` (null = open-ended)."""
        start = self.day(f"{prefix}date_debut")
        end_key = f"{prefix}date_fin"
        end = None if self.absent(end_key) else self.day(end_key)
        if end is not None and end < start:
            raise _Malformed(self.where(end_key), f"period ends ({end}) before it starts ({start})")
        return Period(start=start, end=end)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
