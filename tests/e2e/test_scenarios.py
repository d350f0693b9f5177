"""For every scenario tag of the sandbox population, a lookup end to end over real HTTP that
checks the fields that scenario is about."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from cdr.bootstrap import Gateway, build_population_for
from cdr.clock import SystemClock
from cdr.settings import Settings
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.identifiers import NIA_OID, NirKind, parse_accident_number
from rights.model import Qualite, Requester, SituationKind
from rights.queries import build_query
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult
from sandbox.population import Member, Population

CATALOGUE = default_catalogue()
TODAY = SystemClock().today()
POPULATION: Population = build_population_for(
    Settings(_env_file=None),  # type: ignore[call-arg]
    CATALOGUE,
    TODAY,
)
REQUESTER = Requester(finess="750712184")


async def look(
    gateway: Gateway,
    member: Member,
    *,
    regime: str | None = "member",
    day: date | None = None,
    oid: str | None = None,
    with_birth: bool = True,
) -> LookupReport:
    query = build_query(
        member.nir,
        date_of_care=day or member.date_of_care,
        catalogue=CATALOGUE,
        requester=REQUESTER,
        birth_date=member.birth_date if with_birth else None,
        rang=member.rang,
        regime=member.regime if regime == "member" else regime,
        nir_oid=oid,
    )
    return (await gateway.service.run(query, Caller(Entry.CLI, "tester"))).report


def only(report: LookupReport) -> RightsResult:
    assert len(report.results) == 1
    result = report.results[0]
    assert result.status is RegimeStatus.FOUND, result.detail
    assert result.rights is not None
    return result


Check = Callable[[Gateway, Member], Awaitable[None]]
CHECKS: dict[str, Check] = {}


def check(*tags: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        for tag in tags:
            CHECKS[tag] = fn
        return fn

    return register


@check("open", "no-card", "emergency")
async def _open(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert result.evaluation.in_force
    assert result.evaluation.reason is InForceReason.IN_FORCE
    rights = result.rights
    assert rights is not None
    assert rights.organisation.cdr_regime == member.regime
    assert rights.organisation.regime_code in CATALOGUE.get(member.regime).grand_regimes
    assert rights.beneficiary.family_name == member.family_name


@check("closed")
async def _closed(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert not result.evaluation.in_force
    assert result.evaluation.reason is InForceReason.EXPIRED
    assert "outside-periods" in {w.code for w in result.evaluation.warnings}


@check("future")
async def _future(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert result.evaluation.reason is InForceReason.NOT_YET_OPEN


@check("c2s")
async def _c2s(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None
    c2s = [s for s in rights.situations if s.kind is SituationKind.C2S]
    assert c2s
    for situation in c2s:
        assert situation.code in ("1", "2", "3")
        expected = "88888888" if situation.code == "3" else "99999997"
        assert situation.complementary_id == expected


@check("ame")
async def _ame(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert result.rights is not None
    ame = [s for s in result.rights.situations if s.kind is SituationKind.AME]
    assert ame and all(s.code == "10" and s.complementary_id == "75500017" for s in ame)
    assert result.evaluation.ame_in_force is any(s.period.covers(member.date_of_care) for s in ame)


@check("etm")
async def _etm(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert result.rights is not None
    codes = {e.code for e in result.rights.exonerations}
    assert codes and codes <= {"1", "6", "8", "9", "13", "14", "16", "17", "18"}
    in_force = {e.code for e in result.rights.exonerations if e.period.covers(member.date_of_care)}
    assert set(result.evaluation.exonerations_in_force) == in_force


@check("mtm")
async def _mtm(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None
    assert rights.modulations
    assert {m.code for m in rights.modulations} <= {"6", "7", "8", "9"}


@check("atmp")
async def _atmp(gateway: Gateway, member: Member) -> None:
    assert CATALOGUE.get(member.regime).returns_atmp
    rights = only(await look(gateway, member)).rights
    assert rights is not None
    assert rights.default_at_organisation or rights.accidents
    for accident in rights.accidents:
        assert parse_accident_number(accident.number).value == accident.number
        assert len(accident.organisation) == 9


@check("medecin-traitant")
async def _medecin(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None and rights.medecin_traitant is not None
    assert rights.medecin_traitant.family_name and rights.medecin_traitant.identifier


def _kind_check(kind: NirKind, warning: str | None) -> Check:
    async def run(gateway: Gateway, member: Member) -> None:
        report = await look(gateway, member)
        only(report)
        assert report.query.nir.kind is kind
        if warning:
            assert warning in {w.code for w in report.warnings}

    return run


CHECKS["provisional"] = _kind_check(NirKind.PROVISIONAL, "nir-provisional")
CHECKS["msa-provisional"] = _kind_check(NirKind.MSA_PROVISIONAL, "nir-msa-provisional")
CHECKS["mig"] = _kind_check(NirKind.MIG, "nir-mig")
CHECKS["unusual-sex"] = _kind_check(NirKind.NIR_UNUSUAL_SEX, "nir-nir-unusual-sex")


@check("nia")
async def _nia(gateway: Gateway, member: Member) -> None:
    report = await look(gateway, member, oid=NIA_OID)
    only(report)
    assert report.query.nir.is_nia


@check("corsica", "born-abroad", "pseudo-month")
async def _birth_place(gateway: Gateway, member: Member) -> None:
    report = await look(gateway, member)
    result = only(report)
    nir = report.query.nir
    assert nir.department in ("2A", "2B") or nir.department == "99" or int(nir.body[3:5]) > 12
    assert result.rights is not None


@check("detenu")
async def _detenu(gateway: Gateway, member: Member) -> None:
    result = only(await look(gateway, member))
    assert result.rights is not None
    assert result.rights.organisation.code_gestion == "65"
    assert "detenu" in {w.code for w in result.evaluation.warnings}
    assert "1" in {e.code for e in result.rights.exonerations}


@check("sncf")
async def _sncf(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None and rights.sncf_contract is not None
    codes = set(rights.sncf_contract.codes)
    assert len(codes & {"18", "19", "20", "21"}) == 1
    assert codes - {"18", "19", "20", "21"} <= {"22", "23", "24", "25"}


@check("twins")
async def _twins(gateway: Gateway, member: Member) -> None:
    siblings = [
        m
        for m in POPULATION.with_tag("twins")
        if m.nir == member.nir and m.birth_date == member.birth_date and m.regime == member.regime
    ]
    assert {m.rang for m in siblings} >= {1, 2}
    names = set()
    for sibling in siblings:
        rights = only(await look(gateway, sibling)).rights
        assert rights is not None
        assert rights.beneficiary.rang == sibling.rang
        names.add(tuple(rights.beneficiary.given_names))
    assert len(names) == len(siblings)


@check("ayant-droit")
async def _ayant_droit(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None
    assert rights.beneficiary.qualite is Qualite.ENFANT
    assert rights.ouvrant_droit.nir == member.nir
    assert rights.beneficiary.nir != rights.ouvrant_droit.nir


@check("multi-period")
async def _multi_period(gateway: Gateway, member: Member) -> None:
    rights = only(await look(gateway, member)).rights
    assert rights is not None and len(rights.amo) > 1


@check("deferred-billing")
async def _deferred(gateway: Gateway, member: Member) -> None:
    assert member.date_of_care < TODAY
    then = only(await look(gateway, member))
    now = only(await look(gateway, member, day=TODAY))
    assert then.evaluation.in_force
    assert not now.evaluation.in_force


@check("rejected-invoice")
async def _rejected_invoice(gateway: Gateway, member: Member) -> None:
    report = await look(gateway, member, regime=None)
    found = {r.regime: r for r in report.results if r.status is RegimeStatus.FOUND}
    assert len(found) >= 2, "the person moved: known to the old and the new regime"
    assert any(r.evaluation.in_force for r in found.values())
    assert any(not r.evaluation.in_force for r in found.values())


@check("unknown")
async def _unknown(gateway: Gateway, member: Member) -> None:
    report = await look(gateway, member, regime=None)
    assert report.results
    assert all(r.status is RegimeStatus.UNKNOWN for r in report.results)
    assert report.outcome == "complete"
    assert not report.in_force


ALL_TAGS = sorted({tag for m in POPULATION.members for tag in m.scenarios})


def test_every_scenario_tag_has_a_check():
    assert set(ALL_TAGS) <= set(CHECKS), set(ALL_TAGS) - set(CHECKS)


@pytest.mark.parametrize("tag", ALL_TAGS)
async def test_scenario_end_to_end(gateway: Gateway, tag: str) -> None:
    members = [m for m in POPULATION.with_tag(tag)]
    assert members
    # The named scenario members come first; check a few of each tag, not the whole crowd.
    for member in members[:3]:
        await CHECKS[tag](gateway, member)


@pytest.mark.parametrize("regime", [r.code for r in CATALOGUE])
async def test_every_regime_answers_its_open_member(gateway: Gateway, regime: str) -> None:
    member = next(m for m in POPULATION.members if m.regime == regime and "open" in m.scenarios)
    result = only(await look(gateway, member))
    assert result.regime == regime
    assert result.evaluation.in_force
    rights = result.rights
    assert rights is not None
    assert rights.organisation.cdr_regime == regime
    assert (
        bool(rights.accidents or rights.default_at_organisation)
        <= CATALOGUE.get(regime).returns_atmp
    )
