"""Building blocks of synthetic beneficiaries: numbers with valid keys, periods relative to the
population's ``today``, managing organisations, practitioners and the rights record itself.

Everything here is pure: values in, values out. The population is rebuilt for a given day, so
"open", "closed" and "future" stay true whenever the sandbox starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from rights.catalogue import Regime
from rights.identifiers import accident_key, nir_key
from rights.model import (
    AccidentDeclaration,
    AmoPeriod,
    Beneficiary,
    Exoneration,
    ManagingOrganisation,
    MedecinTraitant,
    OuvrantDroit,
    Period,
    Qualite,
    RegimeRights,
    Situation,
    SncfContract,
)

__all__ = [
    "Calendar",
    "Person",
    "accident",
    "accident_number",
    "medecin",
    "nir",
    "number",
    "organisation",
    "person",
    "practitioner_id",
    "rights_record",
]


def nir(sex: str, year: int, month: int, place: str, order: int) -> str:
    """A 15-character NIR (13 + key). ``month`` may be a pseudo-month (20, 30-42, 50-99)."""
    body = f"{sex}{year % 100:02d}{month:02d}{place}{order:03d}"
    if len(body) != 13:
        raise ValueError(f"NIR body {body!r} must have 13 characters")
    return body + nir_key(body)


def number(prefix: str, order: int) -> str:
    """A 15-character number made of ``prefix`` and a zero-padded order (MIG, NNP, MSA PROVIS)."""
    body = f"{prefix}{order:0{13 - len(prefix)}d}"
    if len(body) != 13 or not body.isdigit():
        raise ValueError(f"number body {body!r} must be 13 digits")
    return body + nir_key(body)


def accident_number(first8: str) -> str:
    return first8 + accident_key(first8)


def practitioner_id(department: str, serial: int) -> str:
    """A 9-digit n° Assurance Maladie of a practitioner: department, profession 1, serial, key."""
    first8 = f"{department}1{serial:05d}"
    # The practitioner number ends in the same Luhn key as an AT number.
    return accident_number(first8)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Dates relative to the day the population is built for."""

    today: date

    def years_ago(self, years: int, *, days: int = 0) -> date:
        try:
            day = self.today.replace(year=self.today.year - years)
        except ValueError:  # 29 February in a year without it
            day = self.today.replace(year=self.today.year - years, day=28)
        return day - timedelta(days=days)

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def next_month_start(self) -> date:
        first = self.today.replace(day=1)
        return (first + timedelta(days=32)).replace(day=1)

    def end_of_next_year(self) -> date:
        return date(self.today.year + 1, 12, 31)

    def open(self, *, bounded: bool = False) -> Period:
        """Rights opened about two years ago, open-ended or ending at the end of next year."""
        return Period(self.years_ago(2), self.end_of_next_year() if bounded else None)

    def closed(self) -> Period:
        """Rights that ended six weeks ago."""
        return Period(self.years_ago(3), self.days_ago(42))

    def future(self) -> Period:
        """Rights that open on the first day of next month."""
        return Period(self.next_month_start(), None)

    def yearly(self, started_days_ago: int = 120) -> Period:
        """A one-year grant (C2S, AME) that started ``started_days_ago`` days ago."""
        start = self.days_ago(started_days_ago)
        return Period(start, start + timedelta(days=364))


@dataclass(frozen=True, slots=True)
class Person:
    """Civil identity of a synthetic person; ``nir`` is the certified 15-character NIR."""

    family_name: str
    given_names: tuple[str, ...]
    birth_date: str
    nir: str
    rang: int = 1
    usual_name: str | None = None

    def beneficiary(self, qualite: Qualite = Qualite.ASSURE) -> Beneficiary:
        return Beneficiary(
            family_name=self.family_name,
            given_names=self.given_names,
            birth_date=self.birth_date,
            rang=self.rang,
            qualite=qualite,
            nir=self.nir,
            usual_name=self.usual_name,
        )

    def ouvrant_droit(self) -> OuvrantDroit:
        return OuvrantDroit(self.family_name, self.given_names, self.nir)


def person(
    family: str,
    given: tuple[str, ...],
    birth: str,
    sex: str,
    place: str,
    order: int,
    *,
    month: int | None = None,
    rang: int = 1,
    usual_name: str | None = None,
) -> Person:
    """A person born on ``birth`` (YYYY-MM-DD) whose NIR follows from sex, birth and place."""
    year, birth_month = int(birth[:4]), int(birth[5:7])
    number_ = nir(sex, year, birth_month if month is None else month, place, order)
    return Person(family, given, birth, number_, rang=rang, usual_name=usual_name)


def organisation(
    regime: Regime,
    *,
    caisse: str | None = None,
    centre: str | None = None,
    code_gestion: str = "10",
) -> ManagingOrganisation:
    return ManagingOrganisation(
        regime_code=regime.grand_regimes[0],
        caisse=caisse or regime.example_caisse,
        centre=centre or regime.example_centre,
        code_gestion=code_gestion,
        cdr_regime=regime.code,
    )


def medecin(doctor: tuple[str, str], identifier: str, start: date) -> MedecinTraitant:
    family, given = doctor
    return MedecinTraitant(family, given, identifier, Period(start, None))


def accident(first8: str, org: ManagingOrganisation, period: Period) -> AccidentDeclaration:
    return AccidentDeclaration(accident_number(first8), org.number, period)


def rights_record(
    person: Person,
    org: ManagingOrganisation,
    amo: tuple[Period, ...],
    *,
    ouvrant: Person | None = None,
    qualite: Qualite = Qualite.ASSURE,
    situations: tuple[Situation, ...] = (),
    exonerations: tuple[Exoneration, ...] = (),
    modulations: tuple[Exoneration, ...] = (),
    medecin_traitant: MedecinTraitant | None = None,
    default_at_organisation: str | None = None,
    accidents: tuple[AccidentDeclaration, ...] = (),
    sncf_contract: SncfContract | None = None,
) -> RegimeRights:
    """The rights one regime holds for ``person`` (the ouvrant droit's when ``ouvrant`` is set)."""
    return RegimeRights(
        beneficiary=person.beneficiary(qualite),
        ouvrant_droit=(ouvrant or person).ouvrant_droit(),
        organisation=org,
        amo=tuple(AmoPeriod(p) for p in amo),
        situations=situations,
        exonerations=exonerations,
        modulations=modulations,
        medecin_traitant=medecin_traitant,
        default_at_organisation=default_at_organisation,
        accidents=accidents,
        sncf_contract=sncf_contract,
    )
