"""The consultation form: what was typed, checked field by field with French messages. The
server's check is the authority; the page's script only previews the NIR key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rights.catalogue import RegimeCatalogue
from rights.dates import check_date_of_care, parse_birth_date
from rights.errors import IdentifierError, IdentifierKeyError, IdentifierLengthError, InputError
from rights.identifiers import IdentifierFieldError, Nir, nir_key, parse_nir
from rights.model import Requester, RightsQuery
from rights.queries import parse_rang

__all__ = ["DISCOVERY", "LookupForm", "NirPreview", "nir_preview", "parse_french_date"]

DISCOVERY = "inconnu"  # the "régime inconnu" tile: discovery across every regime
_FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class NirPreview:
    """What the page says under the NIR field as it is typed."""

    complete: bool
    expected_key: str | None
    message: str


def nir_preview(text: str) -> NirPreview:
    """The expected key once 13 characters are there, and whether a typed key matches; a body
    that cannot be a NIR is said at once (its first failed check)."""
    value = re.sub(r"\s", "", text).upper()
    if len(value) < 13:
        return NirPreview(False, None, f"{len(value)} caractère(s) sur 13, puis la clé (2)")
    try:
        parse_nir(value[:13])
    except IdentifierError as exc:
        return NirPreview(False, None, _body_message(exc))
    expected = nir_key(value[:13])
    if len(value) == 13:
        return NirPreview(True, expected, f"Clé attendue : {expected}")
    if value[13:] == expected:
        return NirPreview(True, expected, f"Clé {expected} correcte")
    return NirPreview(True, expected, f"Clé {value[13:]} fausse : la clé attendue est {expected}")


def parse_french_date(text: str) -> str:
    """``JJ/MM/AAAA`` (or ``AAAA-MM-JJ``, as a date field sends it) as ``AAAA-MM-JJ``;
    ValueError when it is neither."""
    value = text.strip()
    match = _FRENCH_DATE.fullmatch(value)
    if match is not None:
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    if _ISO_DATE.fullmatch(value):
        return value
    raise ValueError(value)


def _body_message(exc: IdentifierError) -> str:
    """What is wrong with the 13 characters before the key, in French."""
    if isinstance(exc, IdentifierFieldError) and exc.check == "month":
        return "Le mois de naissance (4e et 5e caractères) n'existe pas."
    if isinstance(exc, IdentifierFieldError) and exc.check == "department":
        return "Le département de naissance (6e et 7e caractères) n'existe pas."
    return (
        "Le NIR commence par le sexe (1 à 8) et ne contient que des chiffres "
        "(2A ou 2B pour un département de Corse)."
    )


def _nir_message(exc: IdentifierError) -> str:
    if isinstance(exc, IdentifierKeyError):
        return f"La clé du NIR est fausse : pour ce numéro, la clé attendue est {exc.expected_key}."
    if isinstance(exc, IdentifierLengthError):
        return "Le NIR compte 13 caractères, ou 15 avec sa clé."
    return _body_message(exc)


@dataclass
class LookupForm:
    """The fields as typed (kept on every answer) and the errors found, by field name."""

    nir: str = ""
    birth_date: str = ""
    rang: str = "1"
    date_of_care: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: dict[str, str], today: date) -> LookupForm:
        return cls(
            nir=fields.get("nir", "").strip(),
            birth_date=fields.get("birth_date", "").strip(),
            rang=fields.get("rang", "1").strip() or "1",
            date_of_care=fields.get("date_of_care", "").strip() or today.isoformat(),
        )

    def to_query(
        self, regime: str | None, catalogue: RegimeCatalogue, requester: Requester, today: date
    ) -> RightsQuery | None:
        """The query, or None with ``errors`` filled (every field checked, not only the first)."""
        self.errors = {}
        checked_nir: Nir | None = None
        try:
            checked_nir = parse_nir(self.nir)
        except IdentifierError as exc:
            self.errors["nir"] = _nir_message(exc)
        birth: str | None = None
        if self.birth_date:
            try:
                birth = parse_birth_date(parse_french_date(self.birth_date), today=today)
            except ValueError:
                self.errors["birth_date"] = "Saisissez la date de naissance au format JJ/MM/AAAA."
            except InputError:
                self.errors["birth_date"] = (
                    "Cette date de naissance est impossible (dans le futur ou trop ancienne)."
                )
        rang = 1
        try:
            rang = parse_rang(self.rang)
        except InputError:
            self.errors["rang"] = "Le rang de naissance est un chiffre de 1 à 9."
        care: date | None = None
        try:
            care = date.fromisoformat(parse_french_date(self.date_of_care))
        except ValueError:
            self.errors["date_of_care"] = (
                "Cette date des soins n'existe pas : saisissez une date au format JJ/MM/AAAA."
            )
        if care is not None:
            try:
                care = check_date_of_care(care, today=today)
            except InputError:
                self.errors["date_of_care"] = (
                    "La date des soins est impossible : trop ancienne, ou plus d'un an après "
                    "aujourd'hui."
                )
        if self.errors or checked_nir is None or care is None:
            return None
        return RightsQuery(
            nir=checked_nir,
            date_of_care=care,
            birth_date=birth,
            rang=rang,
            regime=None if regime is None else catalogue.get(regime).code,
            requester=requester,
        )
