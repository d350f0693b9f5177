"""Filling a gateway store with validation lookups quickly, through the store's own write path.

What is stored is what `$submit` stores: the real ``SubmitService`` answers a validation CER for
each of a few sandbox members (its lookup made in-process from the member's rights, no regime
call), and the writes it hands to its answer store become templates. Each filled lookup is one
template with fresh ids (CER, CERsp), its person's ids and NIR, and its own instant, saved with
its lookup record by ``SqlAnswerStore.save`` as the gateway saves it, many at a time (its group
commit batches them). The filling is not what the benchmark measures: it is how fast a store of a
given size can be made.

People come back: a quarter of the lookups are a new person, the others someone already looked
up (whose Patient and Coverages are then unchanged and not written again). Lookups are spread
over the year before ``end``, one simulated moment per chunk (its ``lastUpdated``), the chunks
spread evenly over the year whatever their number, so that any prefix of the fill is a year.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import orjson

from benchmarks.fhir_bench import _cer_for, _members
from cdr.audit import Auditor
from cdr.bootstrap import write_strategy
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.database import Database
from cdr.storage.writer import SingleWriter
from fhir_server.store import ResourceWrite, StoredResource
from fhir_server.submit import SubmitService
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.evaluation import evaluate
from rights.identifiers import nir_key, parse_nir
from rights.model import Requester, RightsQuery
from rights.result import LookupReport, RegimeStatus, RightsResult
from sandbox.population import Member

__all__ = ["AnswerTemplate", "StoreFiller", "answer_templates"]

# The instant the templates are made at: its text in them is replaced by each lookup's own.
_SENTINEL = datetime(2001, 1, 1, tzinfo=UTC)
_YEAR = timedelta(days=365)
_GOLDEN = 0.6180339887498949  # chunk k sits at frac(k * golden) of the year: evenly spread
CHUNK = 512  # lookups saved together, at one simulated moment
# Every filled lookup is audited as the gateway audits a `$submit` (one client, one structure).
_CALLER = Caller(Entry.FHIR, "his-bench", "127.0.0.1")
_STRUCTURE = "750712184"
_RETURNING = 0.75  # share of the lookups that are for someone looked up before


@dataclass(frozen=True, slots=True)
class AnswerTemplate:
    """One `$submit` answer as the gateway stores it, ready to be copied with other ids."""

    text: str  # the writes' resources, as one JSON array
    new: tuple[bool, ...]  # per resource: ResourceWrite.new
    report: LookupReport
    fresh_ids: tuple[str, ...]  # the CERsp and CER ids: new for every lookup
    person_ids: tuple[str, ...]  # the Patient and Coverage ids: one set per person
    person_numbers: tuple[str, ...]  # the Coverages' identifiers (AT/MP numbers): per person too
    nir: str  # the 15-character NIR of the person


class _Capture:
    """An ``AnswerStore`` that keeps what it is given."""

    def __init__(self) -> None:
        self.saved: list[tuple[list[ResourceWrite], LookupReport | None]] = []

    async def save(
        self,
        writes: list[ResourceWrite],
        report: LookupReport | None,
        caller: Caller | None = None,
    ) -> list[StoredResource]:
        self.saved.append((list(writes), report))
        return [StoredResource(w.resource, 1, _SENTINEL) for w in writes]


def answer_templates(members: list[Member] | None = None) -> list[AnswerTemplate]:
    """One template per open CNAM member of the sandbox (the FHIR benchmark's members)."""
    members = _members() if members is None else members
    by_nir = {m.nir: m for m in members}

    async def run_lookup(query: RightsQuery) -> LookupReport:
        member = by_nir[query.nir.value]
        day = query.date_of_care
        result = RightsResult(
            member.regime,
            RegimeStatus.FOUND,
            evaluate(RegimeStatus.FOUND, member.rights, day),
            member.rights,
            elapsed_ms=3.0,
            attempts=1,
        )
        return LookupReport(query, (result,), _SENTINEL, 3.0)

    capture = _Capture()
    service = SubmitService(
        catalogue=default_catalogue(),
        answers=capture,
        run_lookup=run_lookup,
        now=lambda: _SENTINEL,
        today=lambda: max(m.date_of_care for m in members),
        default_requester=Requester(finess="750712184"),
        base_url="http://127.0.0.1/fhir",
    )

    async def submit_all() -> None:
        for member in members:
            await service.submit({**_cer_for(member), "created": _SENTINEL.isoformat()}, _CALLER)

    asyncio.run(submit_all())
    templates = []
    for writes, report in capture.saved:
        assert report is not None
        resources = [w.resource for w in writes]
        templates.append(
            AnswerTemplate(
                text=json.dumps(resources),
                new=tuple(w.new for w in writes),
                report=report,
                fresh_ids=tuple(w.resource["id"] for w in writes if w.new),
                person_ids=tuple(
                    r["id"] for r in resources if r["resourceType"] in ("Patient", "Coverage")
                ),
                person_numbers=tuple(
                    i["value"]
                    for r in resources
                    if r["resourceType"] == "Coverage"
                    for i in r.get("identifier", [])
                ),
                nir=report.query.nir.value,
            )
        )
    return templates


def _digest(*parts: object) -> str:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).hexdigest()


class StoreFiller:
    """Adds lookups to a migrated database, ``end`` being the last simulated moment."""

    def __init__(self, database: Database, templates: list[AnswerTemplate], end: datetime) -> None:
        self._database = database
        self._templates = templates
        self._end = end
        self._random = random.Random(19)
        self._people = 0  # person n is made from template n mod len(templates)
        self._chunks = 0
        self.filled = 0
        self._moment = end

    def _person(self) -> int:
        if self._people and self._random.random() < _RETURNING:
            return self._random.randrange(self._people)
        self._people += 1
        return self._people - 1

    def _nir(self, person: int, template: AnswerTemplate) -> str:
        serial = person // len(self._templates)
        # A commune 101-999 (a DOM's starts with 1-9) and an order number 001-999.
        commune, order = 101 + (serial // 999) % 899, 1 + serial % 999
        body = f"{template.nir[:7]}{commune:03d}{order:03d}"
        return body + nir_key(body)

    def _answer(self, instant: datetime) -> tuple[list[ResourceWrite], LookupReport]:
        person = self._person()
        template = self._templates[person % len(self._templates)]
        nir = self._nir(person, template)
        text = template.text.replace(_SENTINEL.isoformat(), instant.isoformat())
        for old in template.fresh_ids:
            text = text.replace(old, _digest(old, self.filled))
        for old in template.person_ids:
            text = text.replace(old, old.split("-")[0] + "-" + _digest(old, person))
        for old in template.person_numbers:  # as JSON strings: the whole value, digits kept
            mine = _digest(old, person)
            if old.isdigit():
                mine = f"{int(mine, 16) % 10 ** len(old):0{len(old)}d}"
            text = text.replace(f'"{old}"', f'"{mine}"')
        text = text.replace(template.nir, nir).replace(template.nir[:13], nir[:13])
        resources = orjson.loads(text)
        writes = [ResourceWrite(r, new=n) for r, n in zip(resources, template.new, strict=True)]
        query = replace(template.report.query, nir=parse_nir(nir))
        report = replace(template.report, query=query, started_at=instant)
        self.filled += 1
        return writes, report

    def fill(self, count: int) -> None:
        """``count`` more lookups, saved ``CHUNK`` at a time by the gateway's answer store."""
        writer = SingleWriter()
        answers = _answer_store(self._database, lambda: self._moment, writer)

        async def fill_all() -> None:
            left = count
            while left > 0:
                size = min(CHUNK, left)
                self._moment = self._end - _YEAR * ((self._chunks * _GOLDEN) % 1.0)
                self._chunks += 1
                step = timedelta(seconds=60 / size)  # a chunk is one minute of lookups
                batch = [self._answer(self._moment + step * n) for n in range(size)]
                await asyncio.gather(*(answers.save(w, r, _CALLER) for w, r in batch))
                left -= size

        try:
            asyncio.run(fill_all())
        finally:
            writer.close()


def _answer_store(
    database: Database, now: Callable[[], datetime], writer: SingleWriter
) -> SqlAnswerStore:
    """The answer store as ``bootstrap.build_submit_service`` makes it, its clock ``now``."""
    auditor = Auditor(
        SqlAuditTrail(database.engine),
        observer="cdr-gateway@bench",
        structure_finess=_STRUCTURE,
        now=now,
        run=writer.run,
    )
    return SqlAnswerStore(
        database.engine,
        now=now,
        run=writer.run,
        write=write_strategy(database).answers,
        quick_engine=database.shared_no_wait_engine(),
        audit=auditor.lookup,
    )


def year_end(today: date) -> datetime:
    """The fill's last moment: the start of ``today`` (UTC), so that today holds only what the
    benchmark's own `$submit` requests store."""
    return datetime(today.year, today.month, today.day, tzinfo=UTC)
