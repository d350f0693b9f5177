"""The named beneficiaries of the sandbox: fixed people, always present, one or more per case of
the coverage checklist of docs/sandbox.md and of the CDR use cases.

Identities (names, NIRs, birth dates) never change; only the periods move with ``today``, so a
test or a demo script can rely on a person and on what their rights show.
"""

from __future__ import annotations

from datetime import date, timedelta

from rights.catalogue import RegimeCatalogue
from rights.errors import ConfigError
from rights.model import (
    Exoneration,
    ManagingOrganisation,
    MedecinTraitant,
    Period,
    Qualite,
    RegimeRights,
    Situation,
    SncfContract,
)
from sandbox.members import STATUS_TAGS, Member, derive_tags, order_tags
from sandbox.names import NamePool
from sandbox.synth import (
    Calendar,
    Person,
    accident,
    medecin,
    number,
    organisation,
    person,
    practitioner_id,
    rights_record,
)

__all__ = ["named_members"]

_SCENARIO_REGIMES = ("cnam", "msa", "mgp", "mgen", "cprpf")

# One reference beneficiary per regime: open rights and a médecin traitant.
# (regime, sex, family name, given names, birth date, place of birth, order)
_REFERENCES: tuple[tuple[str, str, str, tuple[str, ...], str, str, int], ...] = (
    ("cnam", "1", "Lefèvre", ("Jean-Baptiste",), "1962-04-17", "75114", 123),
    ("msa", "2", "Bérenger", ("Marie-Claire",), "1958-09-03", "47001", 45),
    ("cnmss", "1", "Le Goff", ("Yann", "Loïc"), "1979-02-11", "29019", 210),
    ("camieg", "2", "Fontaine", ("Hélène",), "1970-06-25", "93066", 88),
    ("mgp", "1", "Saint-Just", ("Jérôme",), "1982-03-30", "92050", 74),
    ("crpcen", "2", "Lemaître", ("Anne-Sophie",), "1984-12-01", "21231", 17),
    ("enim", "1", "Quéré", ("Gaël",), "1966-07-19", "56121", 133),
    ("interiale", "1", "D'Almeida", ("Sébastien",), "1987-11-08", "59350", 402),
    ("canssm", "1", "Kowalski", ("Stéphane",), "1950-03-08", "62498", 301),
    ("cavimac", "1", "Thévenot", ("Benoît",), "1955-10-30", "87085", 12),
    ("mage", "2", "Noël", ("Clémence",), "1991-01-22", "35238", 140),
    ("mgen", "2", "Rivière", ("Agnès",), "1975-05-14", "31555", 233),
    ("cprpf", "1", "Moreau", ("Jean-Luc",), "1968-04-04", "69123", 230),
    ("ccas-ratp", "1", "Haddad", ("Karim",), "1983-08-09", "94028", 77),
    ("maee", "2", "De La Fontaine", ("Bérénice",), "1969-11-02", "78646", 95),
    ("assemblee-nationale", "1", "Joly-Pottuz", ("Hervé",), "1961-05-28", "75107", 31),
    ("senat", "2", "Sénéchal", ("Geneviève",), "1957-02-14", "75106", 52),
)


class _Book:
    """Collects named members; each ``add`` is one person in one regime."""

    def __init__(self, catalogue: RegimeCatalogue, cal: Calendar, names: NamePool) -> None:
        self.catalogue = catalogue
        self.cal = cal
        self.names = names
        self.members: list[Member] = []
        self._doctor = 0

    def org(self, code: str, **kwargs: str) -> ManagingOrganisation:
        return organisation(self.catalogue.get(code), **kwargs)

    def mt(self, who: Person) -> MedecinTraitant:
        place = who.nir[5:7]
        department = place if place.isdigit() and place not in ("97", "98", "99") else "75"
        self._doctor += 1
        doctor = self.names.doctors[self._doctor % len(self.names.doctors)]
        return medecin(
            doctor, practitioner_id(department, 100 + self._doctor), self.cal.years_ago(5)
        )

    def add(
        self,
        code: str,
        who: Person,
        rights: RegimeRights | None,
        note: str,
        *,
        tags: tuple[str, ...] = (),
        query_nir: str | None = None,
        date_of_care: date | None = None,
    ) -> None:
        day = date_of_care or self.cal.today
        query = query_nir or who.nir
        found = derive_tags(query, rights, day) | set(tags)
        if date_of_care is not None:
            # Rights are open on the past date of care but closed today: neither status tag
            # is true for every date a test might pick, so the member carries none.
            found -= set(STATUS_TAGS)
        self.members.append(
            Member(
                nir=query,
                birth_date=who.birth_date,
                rang=who.rang,
                regime=self.catalogue.get(code).code,
                scenarios=order_tags(found),
                rights=rights,
                date_of_care=day,
                family_name=who.family_name,
                given_name=who.given_names[0],
                note=note,
            )
        )


def named_members(catalogue: RegimeCatalogue, today: date, names: NamePool) -> list[Member]:
    """Every named scenario member, in a fixed order, for the population built on ``today``.

    The scenarios live in the regimes of the default catalogue; a catalogue without one of
    them cannot hold the checklist and is refused.
    """
    missing = [code for code in _SCENARIO_REGIMES if code not in catalogue.codes]
    if missing:
        raise ConfigError(f"sandbox scenarios need the regimes {', '.join(missing)}")
    book = _Book(catalogue, Calendar(today), names)
    references = _references(book)
    _identities(book)
    _situations(book)
    _families(book, references)
    _periods(book)
    _desk(book)
    return book.members


def _references(book: _Book) -> dict[str, Person]:
    cal = book.cal
    people: dict[str, Person] = {}
    for code, sex, family, given, birth, place, order in _REFERENCES:
        if code not in book.catalogue.codes:
            continue
        who = person(family, given, birth, sex, place, order)
        people[code] = who
        label = book.catalogue.get(code).label
        contract = None
        if code == "cprpf":
            # CPRP SNCF contrat particulier: 18 Caisse de Prévoyance + 22 actif (the agent).
            contract = SncfContract(("18", "22"), Period(cal.years_ago(20), None))
        rights = rights_record(
            who,
            book.org(code),
            (cal.open(),),
            medecin_traitant=book.mt(who),
            sncf_contract=contract,
        )
        note = f"Reference beneficiary of {label}: open rights and a declared médecin traitant."
        if contract is not None:
            note = f"SNCF agent (contract 18+22) and reference beneficiary of {label}."
        book.add(code, who, rights, note)
    return people


def _identities(book: _Book) -> None:
    """Numbers of every shape the gateway must accept."""
    cal = book.cal
    cases: tuple[tuple[str, Person, str, tuple[str, ...]], ...] = (
        (
            "cnam",
            person("Santoni", ("Ange-Marie",), "1980-08-15", "1", "2A004", 51),
            "Born in Ajaccio: department 2A in the NIR, read as 19 in the key.",
            (),
        ),
        (
            "msa",
            person("Paoli", ("Marie-Ève",), "1972-03-21", "2", "2B033", 18),
            "Born in Bastia: department 2B in the NIR, read as 18 in the key.",
            (),
        ),
        (
            "cnam",
            person("Bouchaïb", ("Aïcha",), "1988-06-30", "2", "99350", 144),
            "Born in Morocco: place of birth 99 + INSEE country code 350.",
            (),
        ),
        (
            "cnam",
            person("Ben Saïd", ("Moussa",), "1971-01-01", "1", "99352", 27, month=20),
            "Civil record without a birth month: the NIR carries pseudo-month 20.",
            (),
        ),
        (
            "cnam",
            person("Pérez", ("Inès",), "1990-09-09", "2", "99134", 412),
            "NIA assigned by the CNAV to a person born in Spain; shaped and keyed like a NIR.",
            ("nia",),
        ),
        (
            "cnam",
            Person("Müller", ("Frédéric",), "1976-10-10", number("51751", 33021)),
            "MIG number (5 + 1 + caisse 751 + order): coordinated RSS beneficiary.",
            (),
        ),
        (
            "msa",
            Person("Ferracci", ("Lou-Anne",), "1995-04-11", number("555555", 2104578)),
            "MSA provisional number 555555… shown as PROVIS until registration.",
            (),
        ),
        (
            "cnam",
            person("Étienne", ("Dominique",), "1977-07-07", "3", "75112", 3),
            "NIR starting with 3: accepted with a warning, meaning unclear.",
            (),
        ),
    )
    for code, who, note, tags in cases:
        rights = rights_record(who, book.org(code), (cal.open(),), medecin_traitant=book.mt(who))
        book.add(code, who, rights, note, tags=tags)


def _situations(book: _Book) -> None:
    """C2S, AME, ETM, MTM, AT/MP and détenu."""
    cal = book.cal
    today = cal.today
    c2s: tuple[tuple[str, Person, str, int], ...] = (
        ("cnam", person("Martin", ("Manon",), "1998-02-02", "2", "59350", 301), "1", 90),
        ("msa", person("Girard", ("Théo",), "2001-07-07", "1", "24322", 88), "2", 300),
        ("cnam", person("Perrin", ("Océane",), "1985-05-05", "2", "13055", 512), "3", 30),
    )
    for code, who, situation, started in c2s:
        managed = "an organisme complémentaire (88888888)" if situation == "3" else "the caisse"
        rights = rights_record(
            who,
            book.org(code),
            (cal.open(),),
            situations=(Situation(situation, cal.yearly(started)),),
            medecin_traitant=book.mt(who),
        )
        note = f"C2S situation code {situation}, managed by {managed}."
        book.add(code, who, rights, note)

    ame_person = Person("N'Diaye", ("Fatoumata",), "1993-12-05", number("81931", 20250417))
    ame = cal.yearly(200)
    rights = rights_record(
        ame_person, book.org("cnam", caisse="931"), (ame,), situations=(Situation("10", ame),)
    )
    note = "AME (situation 10, 75500017) under a provisional 8… number; no Vitale card."
    book.add("cnam", ame_person, rights, note)

    detenu = person("Legrand", ("Sébastien",), "1989-03-13", "1", "76351", 97)
    jailed = cal.days_ago(250)
    rights = rights_record(
        detenu,
        book.org("cnam", code_gestion="65"),
        (Period(jailed, None),),
        exonerations=(Exoneration("1", Period(jailed, None)),),
    )
    note = "Détenu: code gestion 65, ETM 1 over the detention, tiers payant intégral."
    book.add("cnam", detenu, rights, note)

    ald = person("Thomas", ("Monique",), "1949-01-27", "2", "63113", 42)
    rights = rights_record(
        ald,
        book.org("cnam"),
        (cal.open(),),
        exonerations=(Exoneration("8", Period(cal.years_ago(4), None)),),
        medecin_traitant=book.mt(ald),
    )
    book.add("cnam", ald, rights, "ALD exoneration (ETM 8) since four years, médecin traitant.")

    mother = person("Leroy", ("Élodie",), "1992-08-18", "2", "92050", 233)
    rights = rights_record(
        mother,
        book.org("mgp"),
        (cal.open(),),
        exonerations=(Exoneration("6", Period(cal.days_ago(60), today + timedelta(days=200))),),
    )
    book.add("mgp", mother, rights, "Maternité exoneration (ETM 6) from the sixth month.")

    alsace = person("Muller", ("Marcel",), "1956-12-24", "1", "67482", 19)
    rights = rights_record(
        alsace,
        book.org("cnam", caisse="671"),
        (cal.open(),),
        modulations=(Exoneration("9", Period(cal.years_ago(10), None)),),
        medecin_traitant=book.mt(alsace),
    )
    book.add("cnam", alsace, rights, "Alsace-Moselle local scheme: modulation MTM 9 (CPAM 671).")

    # Only CNAM and MSA return AT/MP data; the numbers are 8 digits and a Luhn key.
    accidents = (
        ("cnam", person("Fournier", ("Philippe",), "1974-05-09", "1", "44109", 205), "24075103"),
        ("msa", person("Bonnet", ("Josiane",), "1965-02-28", "2", "40192", 61), "23471009"),
    )
    for code, who, first in accidents:
        org = book.org(code)
        second = f"25{first[2:5]}{int(first[5:]) + 215:03d}"
        rights = rights_record(
            who,
            org,
            (cal.open(),),
            default_at_organisation=org.number,
            accidents=(
                accident(first, org, Period(cal.days_ago(400), cal.days_ago(300))),
                accident(second, org, Period(cal.days_ago(30), None)),
            ),
            medecin_traitant=book.mt(who),
        )
        note = "Two declared work accidents (keyed AT numbers) and a default AT organisation."
        book.add(code, who, rights, note)


def _families(book: _Book, references: dict[str, Person]) -> None:
    """Ouvrant droit ≠ beneficiary: spouse, child, twins."""
    cal = book.cal
    agent = references["cprpf"]
    spouse = person("Garcia", ("Sylvie",), "1970-12-12", "2", "69123", 231, usual_name="Moreau")
    rights = rights_record(
        spouse,
        book.org("cprpf"),
        (cal.open(),),
        ouvrant=agent,
        qualite=Qualite.CONJOINT,
        sncf_contract=SncfContract(("18", "23"), Period(cal.years_ago(20), None)),
    )
    note = "Spouse of an SNCF agent: contract 18+23, rights opened by her husband."
    book.add("cprpf", spouse, rights, note)

    parent = person("Lambert", ("Céline",), "1987-10-20", "2", "33063", 150)
    rights = rights_record(
        parent, book.org("cnam"), (cal.open(),), medecin_traitant=book.mt(parent)
    )
    book.add("cnam", parent, rights, "Mother of twins: ouvrant droit of both children.")
    for rang, sex, given, order in ((1, "1", "Léo", 401), (2, "2", "Zoé", 402)):
        twin = person("Lambert", (given,), "2019-03-14", sex, "33063", order, rang=rang)
        rights = rights_record(
            twin, book.org("cnam"), (cal.open(),), ouvrant=parent, qualite=Qualite.ENFANT
        )
        note = f"Twin, rang {rang}: same ouvrant droit and birth date; the rang tells them apart."
        book.add("cnam", twin, rights, note, tags=("twins",), query_nir=parent.nir)

    teacher = references["mgen"]
    child = person("Rivière", ("Hugo",), "2012-06-01", "1", "31555", 611)
    rights = rights_record(
        child, book.org("mgen"), (cal.open(),), ouvrant=teacher, qualite=Qualite.ENFANT
    )
    note = "Child (qualité 06) queried with the NIR of his mother, the ouvrant droit."
    book.add("mgen", child, rights, note, query_nir=teacher.nir)


def _periods(book: _Book) -> None:
    """Expired, future, several periods, deferred billing, change of regime."""
    cal = book.cal
    closed = person("Robert", ("Claude",), "1952-07-14", "1", "21231", 321)
    rights = rights_record(closed, book.org("cnam"), (cal.closed(),))
    book.add("cnam", closed, rights, "Rights expired six weeks ago: care today is not covered.")

    future = person("Vincent", ("Anaïs",), "2004-11-30", "2", "34172", 188)
    rights = rights_record(future, book.org("cnam"), (cal.future(),))
    book.add("cnam", future, rights, "Rights open on the first day of next month, not yet today.")

    several = person("Blanc", ("Aurélien",), "1983-01-15", "1", "38185", 27)
    periods = (
        Period(cal.years_ago(6), cal.years_ago(4)),
        Period(cal.years_ago(3), cal.years_ago(1)),
        Period(cal.days_ago(200), None),
    )
    rights = rights_record(several, book.org("cnam"), periods, medecin_traitant=book.mt(several))
    book.add("cnam", several, rights, "Three AMO periods with gaps between them; the last is open.")

    late = person("Clément", ("Thérèse",), "1946-04-02", "2", "87085", 71)
    rights = rights_record(late, book.org("cnam"), (Period(cal.years_ago(3), cal.days_ago(30)),))
    note = "Deferred billing: rights closed today but open on the date of care 120 days ago."
    book.add("cnam", late, rights, note, tags=("deferred-billing",), date_of_care=cal.days_ago(120))

    mover = person("Mercier", ("Yannick",), "1981-06-06", "1", "45234", 145)
    rights = rights_record(mover, book.org("cnam"), (Period(cal.years_ago(5), cal.days_ago(75)),))
    note = "Changed regime: CNAM rights closed 75 days ago, an invoice to CNAM would be rejected."
    book.add("cnam", mover, rights, note, tags=("rejected-invoice",))
    rights = rights_record(mover, book.org("msa"), (Period(cal.days_ago(74), None),))
    note = "Changed regime: MSA rights open since 74 days, the invoice must go to MSA."
    book.add("msa", mover, rights, note, tags=("rejected-invoice",))


def _desk(book: _Book) -> None:
    """Situations at the admission desk: no card, emergency, a person nobody knows."""
    cal = book.cal
    no_card = person("Hénault", ("Dominique",), "1999-03-03", "2", "80021", 64)
    rights = rights_record(no_card, book.org("cnam"), (cal.open(),))
    note = "No Vitale card at the desk: the NIR is typed from an ID and the rights come from CDR."
    book.add("cnam", no_card, rights, note, tags=("no-card",))

    urgent = person("Gauthier", ("Loïc",), "1978-09-12", "1", "06088", 300)
    rights = rights_record(urgent, book.org("msa"), (cal.open(),))
    note = "Emergency admission: rights checked after care has started."
    book.add("msa", urgent, rights, note, tags=("emergency",))

    stranger = person("Valéry", ("Noé",), "1990-02-20", "1", "75113", 999)
    note = "Valid NIR that no regime knows: every regime answers 'unknown person'."
    book.add("cnam", stranger, None, note, tags=("unknown",))
