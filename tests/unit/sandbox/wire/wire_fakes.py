"""Hand-written sandbox directories, Hypothesis strategies for ``RegimeRights`` and an ASGI client
of a wire module's routes, shared by the wire round-trip tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, timedelta

import httpx
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from rights.identifiers import nir_key
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


class FakeDirectory:
    """Holds rights per (regime, NIR of the beneficiary or of the ouvrant droit); records calls."""

    def __init__(self, *entries: tuple[str, RegimeRights]) -> None:
        self.entries = entries
        self.calls: list[tuple[str, str, str | None, int | None]] = []

    def find(
        self, regime: str, nir: str, birth_date: str | None, rang: int | None
    ) -> RegimeRights | None:
        self.calls.append((regime, nir, birth_date, rang))
        for code, rights in self.entries:
            if code == regime and nir in (rights.beneficiary.nir, rights.ouvrant_droit.nir):
                return rights
        return None


class Holding:
    """A directory that knows one person, whatever number is asked."""

    def __init__(self, rights: RegimeRights) -> None:
        self.rights = rights

    def find(self, regime: str, nir: str, birth_date: str | None, rang: int | None) -> RegimeRights:
        return self.rights


BASE_URL = "http://sandbox"


@asynccontextmanager
async def serving(routes: list[BaseRoute]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app serving ``routes`` alone, over ASGI: no socket."""
    transport = httpx.ASGITransport(app=Starlette(routes=routes))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def periods() -> st.SearchStrategy[Period]:
    starts = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
    lengths = st.none() | st.integers(min_value=0, max_value=36_500)
    return st.builds(
        lambda start, days: Period(start, None if days is None else start + timedelta(days=days)),
        starts,
        lengths,
    )


def names() -> st.SearchStrategy[str]:
    # Any printable text, accents, apostrophes and hyphens included; never blank.
    text = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=24)
    return text.filter(lambda s: s.strip() != "")


def nirs() -> st.SearchStrategy[str]:
    body = st.from_regex(r"[1-4][0-9]{4}([0-9]{2}|2A|2B)[0-9]{6}", fullmatch=True)
    return body.map(lambda b: b + nir_key(b))


def codes(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def regime_rights(cdr_regime: str, *, sncf: bool = False) -> st.SearchStrategy[RegimeRights]:
    """Rights as a regime without AT/MP returns them; ``sncf`` adds a contrat particulier."""
    exonerations = st.lists(st.builds(Exoneration, codes(r"[0-9]{1,2}"), periods()), max_size=3)
    contract = st.builds(
        SncfContract,
        st.builds(
            lambda main, rest: (main, *rest),
            st.sampled_from(["18", "19", "20", "21"]),
            st.lists(st.sampled_from(["22", "23", "24", "25"]), max_size=2),
        ),
        periods(),
    )
    return st.builds(
        RegimeRights,
        beneficiary=st.builds(
            Beneficiary,
            family_name=names(),
            given_names=st.lists(names(), max_size=3).map(tuple),
            birth_date=codes(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),  # lunar dates included
            rang=st.integers(min_value=1, max_value=99),
            qualite=st.sampled_from(Qualite),
            nir=st.none() | nirs(),
            usual_name=st.none() | names(),
        ),
        ouvrant_droit=st.builds(
            OuvrantDroit, names(), st.lists(names(), max_size=3).map(tuple), nirs()
        ),
        organisation=st.builds(
            ManagingOrganisation,
            codes(r"[0-9]{2}"),
            codes(r"[0-9]{3}"),
            codes(r"[0-9]{4}"),
            codes(r"[0-9]{2}"),
            st.just(cdr_regime),
        ),
        amo=st.lists(st.builds(AmoPeriod, periods(), codes(r"[0-9]")), max_size=3).map(tuple),
        situations=st.lists(
            st.builds(Situation, st.sampled_from(["1", "2", "3", "10"]), periods()), max_size=3
        ).map(tuple),
        exonerations=exonerations.map(tuple),
        modulations=exonerations.map(tuple),
        medecin_traitant=st.none()
        | st.builds(MedecinTraitant, names(), names(), codes(r"[0-9]{9}|[0-9]{11}"), periods()),
        sncf_contract=contract if sncf else st.none(),
    )


_nine_digits = st.from_regex(r"[0-9]{9}", fullmatch=True)


def with_atmp(rights: st.SearchStrategy[RegimeRights]) -> st.SearchStrategy[RegimeRights]:
    """Rights as cnam and msa return them: with a default AT organisation and accidents."""
    accidents = st.lists(
        st.builds(AccidentDeclaration, _nine_digits, _nine_digits, periods()), max_size=2
    ).map(tuple)
    return st.builds(
        lambda held, organisation, declared: replace(
            held, default_at_organisation=organisation, accidents=declared
        ),
        rights,
        st.none() | _nine_digits,
        accidents,
    )
