"""A lookup report read back from the store: the inverse of ``cdr.report_json.rights_to_dict``
and of the lookup rows (``cdr.storage.lookups``), so that a result page or its attestation can
be shown again by any worker process, or after a restart.

Each regime's evaluation is made again from its stored rights and the stored date of care
(``rights.evaluation`` is pure: the same rights and day give the same answer); what a regime
did not return (its status, reason, detail) is as stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rights.evaluation import evaluate
from rights.identifiers import Nir, NirKind
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
    Requester,
    RightsQuery,
    Situation,
    SncfContract,
)
from rights.result import Evaluation, InForceReason, LookupReport, RegimeStatus, RightsResult
from rights.result import Warning as RightsWarning

__all__ = ["report_from_rows", "rights_from_dict"]


def _period(raw: dict[str, Any]) -> Period:
    end = raw.get("end")
    return Period(
        date.fromisoformat(raw["start"]), None if end is None else date.fromisoformat(end)
    )


def _exoneration(raw: dict[str, Any]) -> Exoneration:
    return Exoneration(raw["code"], _period(raw["period"]))


def rights_from_dict(raw: dict[str, Any]) -> RegimeRights:
    b, o, org = raw["beneficiary"], raw["ouvrant_droit"], raw["organisation"]
    mt, sncf = raw.get("medecin_traitant"), raw.get("sncf_contract")
    return RegimeRights(
        beneficiary=Beneficiary(
            family_name=b["family_name"],
            given_names=tuple(b["given_names"]),
            birth_date=b["birth_date"],
            rang=int(b["rang"]),
            qualite=Qualite(b["qualite"]),
            nir=b.get("nir"),
            usual_name=b.get("usual_name"),
        ),
        ouvrant_droit=OuvrantDroit(o["family_name"], tuple(o["given_names"]), o["nir"]),
        organisation=ManagingOrganisation(
            org["regime_code"], org["caisse"], org["centre"], org["code_gestion"], org["cdr_regime"]
        ),
        amo=tuple(AmoPeriod(_period(a["period"]), a["nature_pj"]) for a in raw["amo"]),
        situations=tuple(Situation(s["code"], _period(s["period"])) for s in raw["situations"]),
        exonerations=tuple(_exoneration(e) for e in raw["exonerations"]),
        modulations=tuple(_exoneration(m) for m in raw["modulations"]),
        medecin_traitant=None
        if mt is None
        else MedecinTraitant(
            mt["family_name"], mt["given_name"], mt["identifier"], _period(mt["period"])
        ),
        default_at_organisation=raw.get("default_at_organisation"),
        accidents=tuple(
            AccidentDeclaration(a["number"], a["organisation"], _period(a["period"]))
            for a in raw["accidents"]
        ),
        sncf_contract=None
        if sncf is None
        else SncfContract(tuple(sncf["codes"]), _period(sncf["period"])),
    )


def _result(row: dict[str, Any], day: date) -> RightsResult:
    status = RegimeStatus(row["status"])
    raw = row.get("rights")
    rights = None if raw is None else rights_from_dict(raw)
    reason = InForceReason(row["reason"])
    evaluation = (
        evaluate(status, rights, day)
        if rights is not None
        else Evaluation(bool(row["in_force"]), reason)
    )
    return RightsResult(
        regime=row["regime"],
        status=status,
        evaluation=evaluation,
        rights=rights,
        detail=row["detail"],
        elapsed_ms=float(row["elapsed_ms"]),
        attempts=int(row["attempts"]),
        from_cache=bool(row["from_cache"]),
    )


def report_from_rows(
    lookup: dict[str, Any], results: list[dict[str, Any]], started_at: datetime
) -> LookupReport:
    """``lookup``: the lookups row; ``results``: its lookup_results rows (rights decoded), in
    the order they were stored (the catalogue's)."""
    value = lookup["nir"]
    nir = Nir(body=value[:13], key=value[13:], kind=NirKind(lookup["nir_kind"]))
    query = RightsQuery(
        nir=nir,
        date_of_care=lookup["date_of_care"],
        birth_date=lookup["birth_date"],
        rang=int(lookup["rang"]),
        regime=lookup["requested_regime"],
        requester=Requester(finess=lookup["requester_finess"], rpps=lookup["requester_rpps"]),
    )
    return LookupReport(
        query=query,
        results=tuple(_result(r, query.date_of_care) for r in results),
        started_at=started_at,
        elapsed_ms=float(lookup["elapsed_ms"]),
        warnings=tuple(RightsWarning(w["code"], w["message"]) for w in lookup["warnings"]),
    )
