"""The result page's view of a report: every block worded in French, the conclusion for the
date of care, and each regime's status in discovery; the attestation made from it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fhir_server.portal.attestation import attestation_pdf
from fhir_server.portal.professional import professional_from_userinfo
from fhir_server.portal.views import result_view
from rights.catalogue import default_catalogue
from rights.identifiers import parse_nir
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
    RightsQuery,
    Situation,
)
from rights.result import (
    Evaluation,
    InForceReason,
    LookupReport,
    RegimeStatus,
    RightsResult,
    Warning,
)
from sandbox.psc import PROFESSIONALS

CARE = date(2026, 12, 8)
NIR = "162047511412341"
RIGHTS = RegimeRights(
    beneficiary=Beneficiary("Durand", ("Léa",), "2015-00-00", 1, Qualite.ENFANT, nir=None),
    ouvrant_droit=OuvrantDroit("Durand", ("Marc", "Jean"), NIR),
    organisation=ManagingOrganisation("01", "751", "0000", "10", "cnam"),
    amo=(AmoPeriod(Period(date(2024, 1, 1), date(2026, 12, 31))),),
    situations=(
        Situation("1", Period(date(2026, 1, 1))),
        Situation("10", Period(date(2025, 1, 1))),
    ),
    exonerations=(Exoneration("8", Period(date(2026, 1, 1), date(2027, 6, 30))),),
    medecin_traitant=MedecinTraitant("Ndiaye", "Awa", "751001017", Period(date(2021, 5, 3))),
    default_at_organisation="017510000",
    accidents=(AccidentDeclaration("123456789", "017510000", Period(date(2026, 3, 1))),),
)


def _report(*results: RightsResult, regime: str | None = "cnam") -> LookupReport:
    query = RightsQuery(nir=parse_nir(NIR), date_of_care=CARE, regime=regime)
    return LookupReport(
        query=query,
        results=results,
        started_at=datetime(2026, 12, 8, 9, 30, tzinfo=UTC),
        elapsed_ms=12.0,
        warnings=(Warning("lunar-birth-date", "lunar"),),
    )


def _found(in_force: bool = True) -> RightsResult:
    reason = InForceReason.IN_FORCE if in_force else InForceReason.EXPIRED
    return RightsResult(
        regime="cnam",
        status=RegimeStatus.FOUND,
        evaluation=Evaluation(
            in_force, reason, warnings=(Warning("ending-soon", "AMO rights end on 2026-12-31"),)
        ),
        rights=RIGHTS,
    )


def test_every_block_is_worded_in_french():
    asked = datetime(2026, 12, 8, 10, 5, tzinfo=UTC)
    view = result_view("abc", _report(_found()), default_catalogue(), asked)
    assert view.headline == "Droits ouverts à la date des soins"
    assert view.asked_at == "08/12/2026 à 10:05"
    assert view.warnings == [
        "Date de naissance lunaire : transmettez-la telle qu'elle figure sur la carte."
    ]
    block = view.blocks[0]
    assert block.beneficiary_name == "DURAND Léa"
    assert block.beneficiary_birth_date == "00/00/2015"
    assert block.qualite == "06 — enfant"
    assert block.ouvrant_droit_name == "DURAND Marc Jean"
    assert (block.regime_code, block.caisse, block.centre) == ("01", "751", "0000")
    assert block.amo_periods == ["du 01/01/2024 au 31/12/2026"]
    assert block.c2s == ["C2S gérée par la caisse (organisme 99999997), depuis le 01/01/2026"]
    assert block.ame == ["AME (organisme 75500017), depuis le 01/01/2025"]
    assert block.etm == ["8 — ALD (affection de longue durée), du 01/01/2026 au 30/06/2027"]
    assert block.medecin_traitant == "Dr Awa NDIAYE (n° 751001017)"
    assert block.accidents == ["n° 123456789, organisme 017510000, depuis le 01/03/2026"]
    assert block.returns_atmp
    assert block.warnings == [
        "Les droits se terminent bientôt (le 31/12/2026) : pensez à les faire renouveler."
    ]


def test_closed_rights_say_why():
    view = result_view("abc", _report(_found(False)), default_catalogue(), datetime.now(UTC))
    assert not view.in_force
    assert view.headline == (
        "Droits fermés à la date des soins : droits fermés : la dernière période de droits "
        "est terminée"
    )


def test_discovery_lists_each_regime_and_tells_unknown_from_down():
    unknown = RightsResult(
        "msa", RegimeStatus.UNKNOWN, Evaluation(False, InForceReason.UNKNOWN_PERSON)
    )
    down = RightsResult(
        "mgen", RegimeStatus.UNAVAILABLE, Evaluation(False, InForceReason.REGIME_UNAVAILABLE)
    )
    view = result_view(
        "x", _report(unknown, down, regime=None), default_catalogue(), datetime.now(UTC)
    )
    assert view.discovery and not view.any_found
    assert [(r.label, r.status) for r in view.regimes] == [
        ("MSA", "personne inconnue"),
        ("MGEN", "indisponible"),
    ]
    assert "certains régimes n'ont pas répondu" in view.headline
    only_unknown = result_view(
        "x", _report(unknown, regime=None), default_catalogue(), datetime.now(UTC)
    )
    assert only_unknown.headline.startswith("Personne inconnue")
    only_down = result_view("x", _report(down, regime=None), default_catalogue(), datetime.now(UTC))
    assert only_down.headline.startswith("Régime indisponible")


def test_the_attestation_is_a_pdf_naming_the_lookup():
    view = result_view("ref-123", _report(_found()), default_catalogue(), datetime.now(UTC))
    user = professional_from_userinfo(PROFESSIONALS[0].userinfo())
    pdf = attestation_pdf(view, user, "750100018")
    assert pdf.startswith(b"%PDF-")
    assert b"Attestation de consultation des droits" in pdf  # the document's title


def test_rights_found_while_a_regime_was_down_say_so():
    down = RightsResult(
        "msa", RegimeStatus.TIMEOUT, Evaluation(False, InForceReason.REGIME_UNAVAILABLE)
    )
    view = result_view(
        "x", _report(_found(), down, regime=None), default_catalogue(), datetime.now(UTC)
    )
    assert view.in_force
    assert view.warnings[0].startswith("Sans réponse de : MSA.")
