"""What each ``cdr`` command does (argument parsing lives in ``cli``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import socket
import sys
import urllib.parse

from cdr.attended import AttendedSession, open_attended, pin_from_terminal_or_stdin
from cdr.bootstrap import build_gateway, build_population_for
from cdr.clock import SystemClock
from cdr.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json
from cdr.logs import lookup_entry
from cdr.outbox_commands import outbox_list, outbox_retry
from cdr.regime_wiring import build_regime_gateways
from cdr.render import format_nir, lookup_table, table
from cdr.report_json import report_to_dict
from cdr.settings import Settings
from cdr.storage import Database
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.errors import InputError
from rights.identifiers import parse_finess
from rights.model import Requester
from rights.queries import build_query, parse_date_of_care
from rights.result import InForceReason, RegimeStatus

__all__ = [
    "db_upgrade",
    "lookup",
    "outbox_list",
    "outbox_retry",
    "regimes",
    "sandbox_list",
]

log = logging.getLogger("cdr")


def sandbox_list(
    settings: Settings, *, as_json: bool, scenario: str | None, regime: str | None
) -> int:
    catalogue = default_catalogue()
    if regime:
        regime = catalogue.get(regime, location="--regime").code
    population = build_population_for(settings, catalogue, SystemClock(settings.zone).today())
    members = [
        m
        for m in population.to_json()
        if (scenario is None or scenario in m["scenarios"])
        and (regime is None or m["regime"] == regime)
    ]
    if scenario and not members:
        tags = sorted({t for m in population.to_json() for t in m["scenarios"]})
        print(f"cdr: no member tagged {scenario!r}; tags: {', '.join(tags)}", file=sys.stderr)
        return EXIT_INPUT
    if as_json:
        print_json(members)
        return EXIT_OK
    print(
        table(
            ["NIR", "Birth date", "Rang", "Regime", "Date of care", "Name", "Scenarios"],
            [
                [
                    format_nir(m["nir"]),
                    m["birth_date"],
                    str(m["rang"]),
                    m["regime"],
                    m["date_of_care"],
                    f"{m['family_name']} {m['given_name']}",
                    ",".join(m["scenarios"]),
                ]
                for m in members
            ],
        )
    )
    print(f"\n{len(members)} members (synthetic test data, seed {settings.sandbox_seed})")
    return EXIT_OK


async def lookup(settings: Settings, args: argparse.Namespace) -> int:
    lookup_entry.set("cli")
    # The structure asking is checked before anything starts, as the FHIR edge checks it: a
    # FINESS the regimes would refuse must not cost a round of lookups (issue 18.2).
    where = "--finess" if getattr(args, "finess", None) is not None else "CDR_REQUESTER_FINESS"
    finess = parse_finess(settings.requester_finess, location=where).value
    attended = _open_card(settings, args) if getattr(args, "card", False) else None
    try:
        gateway = build_gateway(settings, signer=None if attended is None else attended.signer)
        try:
            date_of_care = (
                parse_date_of_care(args.date, location="--date")
                if args.date
                else gateway.clock.today()
            )
            person = None if attended is None else attended.person
            query = build_query(
                args.nir,
                date_of_care=date_of_care,
                catalogue=gateway.catalogue,
                requester=Requester(
                    finess=finess, rpps=args.rpps if person is None else person.rpps
                ),
                birth_date=args.birth_date,
                rang=args.rang,
                regime=args.regime,
                today=gateway.clock.today(),
            )
            stored = await gateway.service.run(query, Caller(Entry.CLI, _os_user(), person=person))
        finally:
            await gateway.aclose()
    finally:
        if attended is not None:
            attended.close()
    report = stored.report
    if args.json:
        print_json(report_to_dict(report, lookup_id=stored.lookup_id))
    else:
        print(lookup_table(report, gateway.catalogue, stored.lookup_id))
        refused = [r for r in report.failed if r.status is RegimeStatus.REJECTED]
        if refused:
            # A refusal is an answer: say who refused what, never "is it running?".
            first = refused[0]
            what = "the lookup"
            if first.evaluation.reason is InForceReason.REQUESTER_REFUSED:
                what = f"the requesting structure (FINESS {query.requester.finess})"
            print(
                f"\n{len(refused)} regime(s) refused {what} "
                f"[{first.evaluation.reason.value}]: {first.detail}",
                file=sys.stderr,
            )
        elif (
            report.outcome == "error"
            and settings.uses_embedded_sandbox
            and not _accepts_connections(settings.effective_regimes_url)
        ):
            print(
                f"\nNo regime answered. Is the system running (`make run` or `cdr serve`)? "
                f"Expected the sandbox at {settings.effective_regimes_url}.",
                file=sys.stderr,
            )
    return EXIT_FAILED if report.outcome == "error" else EXIT_OK


def _open_card(settings: Settings, args: argparse.Namespace) -> AttendedSession:
    """The card holder's session for `cdr lookup --card`, said on stderr (stdout may be JSON)."""
    if args.rpps is not None:
        raise InputError("with --card, the card names the professional", location="--rpps")
    from card.pcsc import PcscReader  # the desk's reader: imported only when asked for

    session = open_attended(
        settings,
        PcscReader(),
        reader_name=args.reader,
        read_pin=pin_from_terminal_or_stdin(args.pin_stdin),
        now=SystemClock(settings.zone).now,
    )
    print(session.describe(), file=sys.stderr)
    return session


def _accepts_connections(url: str) -> bool:
    """Whether anything listens at ``url``'s host and port: the hint about starting the system
    is given only when nothing does (a regime that answered 5xx or timed out was reached)."""
    parsed = urllib.parse.urlsplit(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


async def regimes(settings: Settings, *, as_json: bool) -> int:
    # Only the regime services are asked: no database is opened (nor created).
    catalogue = default_catalogue()
    registry, ports = build_regime_gateways(settings, catalogue)
    try:
        health = await asyncio.gather(*(registry.get(r.code).health(r) for r in catalogue))
    finally:
        for port in ports:
            await port.aclose()
    rows = [
        {
            "code": r.code,
            "label": r.label,
            "name": r.name,
            "grand_regimes": list(r.grand_regimes),
            "example_caisse": r.example_caisse,
            "example_centre": r.example_centre,
            "family": r.family,
            "returns_atmp": r.returns_atmp,
            "up": up,
        }
        for r, up in zip(catalogue, health, strict=True)
    ]
    # Not one regime answering is no service to reach, not 17 regimes down: say that alone.
    unreachable = not any(health)
    if unreachable:
        url = settings.effective_regimes_url
        if settings.uses_embedded_sandbox and not _accepts_connections(url):
            hint = "is the gateway running (`cdr serve` or `make run`)?"
        elif settings.uses_embedded_sandbox:
            # Something listens but no regime answers: over https, a TLS refusal.
            hint = "it accepts connections: check the CDR_REGIMES_*_FILE TLS settings"
        else:
            hint = "check CDR_REGIMES_URL, the CDR_REGIMES_*_FILE TLS settings and the network"
        print(f"cdr: no regime service answers at {url}: {hint}", file=sys.stderr)
    if as_json:
        print_json({"catalogue_version": catalogue.version, "regimes": rows})
        return EXIT_FAILED if unreachable else EXIT_OK
    if unreachable:
        return EXIT_FAILED
    print(
        table(
            ["Code", "Regime", "Régime codes", "Caisse/centre", "Wire", "AT/MP", "Health"],
            [
                [
                    r.code,
                    r.label,
                    ",".join(r.grand_regimes),
                    f"{r.example_caisse}/{r.example_centre}",
                    r.family,
                    "yes" if r.returns_atmp else "no",
                    "up" if up else "DOWN",
                ]
                for r, up in zip(catalogue, health, strict=True)
            ],
        )
    )
    print(f"\ncatalogue version {catalogue.version}; regimes at {settings.effective_regimes_url}")
    return EXIT_OK


def db_upgrade(settings: Settings) -> int:
    database = Database(settings.effective_database_url)
    try:
        database.migrate()
        url = database.engine.url.render_as_string(hide_password=True)
    finally:
        database.dispose()
    print(f"database at {url} is up to date")
    return EXIT_OK


def _os_user() -> str:
    """Who ran the command, for the audit trail ("" when the system cannot tell)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name, no password-file entry (a container's uid)
        return ""
