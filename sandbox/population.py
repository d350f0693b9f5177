"""The synthetic population the sandbox regimes answer from.

``build_population`` gives the named scenario members (``scenarios.py``) and then
``per_regime`` random members per regime, drawn from ``random.Random(seed)`` only: the same seed
and day always give the same people. ``Population`` is also the sandbox's ``Directory``: wire
routes call ``find`` on every request, so lookups are two dictionary reads.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import ConfigError
from rights.model import (
    AccidentDeclaration,
    Exoneration,
    MedecinTraitant,
    Period,
    RegimeRights,
    Situation,
    SncfContract,
)
from sandbox.members import Member, derive_tags, order_tags
from sandbox.names import NamePool, default_names
from sandbox.scenarios import named_members
from sandbox.synth import (
    Calendar,
    Person,
    accident,
    medecin,
    nir,
    organisation,
    practitioner_id,
    rights_record,
)

__all__ = ["Member", "Population", "build_population"]

# Places of birth for random members: (department + INSEE commune), or 99 + country.
_PLACES = (
    "75115", "75118", "93066", "69123", "13055", "33063", "59350", "67482", "44109", "31555",
    "35238", "06088", "34172", "63113", "87085", "21231", "76351", "57463", "68224", "29019",
    "2A004", "2B033", "97120", "97411", "38185", "45234", "80021", "64445", "14118", "51454",
)  # fmt: skip
_ABROAD = ("99350", "99352", "99351", "99109", "99134", "99139", "99127", "99131", "99341")
# CPAM caisse codes: department + one digit (SESAM-Vitale caisse tables).
_CPAM = ("751", "931", "691", "131", "331", "591", "671", "441", "311", "971")
_MSA = ("471", "475")
_ALD = ("8", "9", "13", "16")


@dataclass(slots=True)
class _Household:
    """Everyone one regime knows under one number: its owner and the dependants it opens."""

    default: RegimeRights | None = None
    by_birth: dict[str, dict[int, RegimeRights]] = field(default_factory=dict)
    first_by_birth: dict[str, RegimeRights] = field(default_factory=dict)


class Population:
    """The sandbox's beneficiaries; ``find`` implements ``sandbox.directory.Directory``."""

    def __init__(self, members: Iterable[Member], *, seed: int, today: date) -> None:
        self.members: tuple[Member, ...] = tuple(members)
        self.seed = seed
        self.today = today
        self._index: dict[tuple[str, str], _Household] = {}
        for member in self.members:
            if member.rights is not None:
                self._enter(member.regime, member.rights)

    def _enter(self, regime: str, rights: RegimeRights) -> None:
        person = rights.beneficiary
        owner = person.nir[:13] if person.nir else None
        keys = [rights.ouvrant_droit.nir[:13]]
        if owner is not None and owner not in keys:
            keys.append(owner)
        for key in keys:
            household = self._index.setdefault((regime, key), _Household())
            by_rang = household.by_birth.setdefault(person.birth_date, {})
            if person.rang in by_rang:
                raise ConfigError(
                    f"sandbox population holds two people born {person.birth_date} with rang "
                    f"{person.rang} under {key} in {regime}"
                )
            by_rang[person.rang] = rights
            household.first_by_birth[person.birth_date] = by_rang[min(by_rang)]
            if key == owner:
                household.default = rights

    def find(
        self, regime: str, nir: str, birth_date: str | None, rang: int | None
    ) -> RegimeRights | None:
        household = self._index.get((regime, nir.replace(" ", "").upper()[:13]))
        if household is None:
            return None
        if birth_date is None:
            # Without a birth date the number's owner answers, as the CDR portal does.
            return household.default
        if rang is None:
            return household.first_by_birth.get(birth_date)
        by_rang = household.by_birth.get(birth_date)
        return None if by_rang is None else by_rang.get(rang)

    def with_tag(self, tag: str) -> tuple[Member, ...]:
        return tuple(m for m in self.members if tag in m.scenarios)

    def to_json(self, scenario: str | None = None) -> list[dict[str, Any]]:
        """What ``cdr sandbox list --json`` prints: one object per member, marked as test data."""
        chosen = self.members if scenario is None else self.with_tag(scenario)
        return [_member_json(m) for m in chosen]


def _member_json(member: Member) -> dict[str, Any]:
    rights = member.rights
    return {
        "nir": member.nir,
        "birth_date": member.birth_date,
        "rang": member.rang,
        "regime": member.regime,
        "scenarios": list(member.scenarios),
        "date_of_care": member.date_of_care.isoformat(),
        "family_name": member.family_name,
        "given_name": member.given_name,
        "note": member.note,
        "qualite": None if rights is None else rights.beneficiary.qualite.value,
        "ouvrant_droit_nir": None if rights is None else rights.ouvrant_droit.nir,
        "test_data": True,
    }


def build_population(
    catalogue: RegimeCatalogue,
    *,
    seed: int,
    today: date,
    per_regime: int = 20,
    names: NamePool | None = None,
) -> Population:
    """The named scenario members, then ``per_regime`` random members for every regime."""
    pool = names or default_names()
    members = named_members(catalogue, today, pool)
    draw = _Draw(random.Random(seed), Calendar(today), pool)
    taken = {m.nir[:13] for m in members}
    for m in members:
        if m.rights is not None and m.rights.beneficiary.nir:
            taken.add(m.rights.beneficiary.nir[:13])
    for regime in catalogue:
        for _ in range(per_regime):
            members.append(draw.member(regime, taken))
    return Population(members, seed=seed, today=today)


class _Draw:
    """Random members: mostly open rights, with the optional blocks in realistic proportions."""

    def __init__(self, rng: random.Random, cal: Calendar, names: NamePool) -> None:
        self.rng = rng
        self.cal = cal
        self.names = names

    def member(self, regime: Regime, taken: set[str]) -> Member:
        who = self._person(taken)
        rights = self._rights(regime, who)
        tags = order_tags(derive_tags(who.nir, rights, self.cal.today))
        shown = ", ".join(t for t in tags if t != "open") or "no special situation"
        status = "open" if "open" in tags else "not open"
        return Member(
            nir=who.nir,
            birth_date=who.birth_date,
            rang=who.rang,
            regime=regime.code,
            scenarios=tags,
            rights=rights,
            date_of_care=self.cal.today,
            family_name=who.family_name,
            given_name=who.given_names[0],
            note=f"Random {regime.label} beneficiary, rights {status}; shows: {shown}.",
        )

    def _person(self, taken: set[str]) -> Person:
        rng = self.rng
        while True:
            sex = rng.choice("12")
            first = date(1932, 1, 1)
            birth = first + timedelta(days=rng.randrange((self.cal.years_ago(18) - first).days))
            place = rng.choice(_ABROAD if rng.random() < 0.06 else _PLACES)
            number = nir(sex, birth.year, birth.month, place, rng.randint(1, 999))
            if number[:13] not in taken:
                taken.add(number[:13])
                break
        given = self.names.given(sex)
        names = (rng.choice(given),) if rng.random() < 0.7 else tuple(rng.sample(given, 2))
        return Person(rng.choice(self.names.family), names, birth.isoformat(), number)

    def _rights(self, regime: Regime, who: Person) -> RegimeRights:
        rng, cal = self.rng, self.cal
        caisse = None
        if regime.code == "cnam":
            caisse = rng.choice(_CPAM)
        elif regime.code == "msa":
            caisse = rng.choice(_MSA)
        org = organisation(regime, caisse=caisse)
        status = rng.random()
        if status < 0.07:
            amo: tuple[Period, ...] = (cal.closed(),)
        elif status < 0.11:
            amo = (cal.future(),)
        elif status < 0.18:
            amo = (Period(cal.years_ago(7), cal.years_ago(4)), Period(cal.years_ago(3), None))
        else:
            start = cal.years_ago(rng.randint(1, 6), days=rng.randint(0, 300))
            amo = (Period(start, cal.end_of_next_year() if rng.random() < 0.3 else None),)
        # The optional blocks go to members whose rights are open today, as in real files.
        opened = status >= 0.11
        situations: tuple[Situation, ...] = ()
        if opened and rng.random() < 0.1:
            situations = (Situation(rng.choice("123"), cal.yearly(rng.randint(10, 350))),)
        exonerations: tuple[Exoneration, ...] = ()
        if opened and rng.random() < 0.15:
            ald = Period(cal.years_ago(rng.randint(1, 8)), None)
            exonerations = (Exoneration(rng.choice(_ALD), ald),)
        modulations: tuple[Exoneration, ...] = ()
        if opened and caisse == "671":
            modulations = (Exoneration("9", Period(cal.years_ago(rng.randint(1, 20)), None)),)
        contract = None
        if regime.code == "cprpf":
            contract = SncfContract(("18", "22"), Period(cal.years_ago(rng.randint(1, 30)), None))
        accidents: tuple[AccidentDeclaration, ...] = ()
        at_org = None
        if opened and regime.returns_atmp and rng.random() < 0.12:
            first8 = f"{rng.randint(10, 25):02d}{org.caisse}{rng.randint(0, 999):03d}"
            accidents = (accident(first8, org, Period(cal.days_ago(rng.randint(20, 700)), None)),)
            at_org = org.number
        return rights_record(
            who,
            org,
            amo,
            situations=situations,
            exonerations=exonerations,
            modulations=modulations,
            medecin_traitant=self._medecin(who) if opened and rng.random() < 0.7 else None,
            default_at_organisation=at_org,
            accidents=accidents,
            sncf_contract=contract,
        )

    def _medecin(self, who: Person) -> MedecinTraitant:
        place = who.nir[5:7]
        department = place if place.isdigit() and place not in ("97", "98", "99") else "75"
        doctor = self.rng.choice(self.names.doctors)
        identifier = practitioner_id(department, self.rng.randint(1, 99999))
        return medecin(doctor, identifier, self.cal.years_ago(self.rng.randint(1, 10)))
