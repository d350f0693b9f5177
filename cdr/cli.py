"""The ``cdr`` command line.

Exit codes: 0 done; 1 the regimes could not answer (every regime failed) or a runtime failure;
2 bad input or configuration (the message names the field and the check that failed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import SettingsError

from cdr.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json
from cdr.settings import Settings
from cdr.version import version
from rights.errors import CdrError, ConfigError, IdentifierKeyError, InputError

__all__ = ["main"]


# DESIGN §9; the same names as card.pki.PROFILES (a test keeps them equal), written out here
# so that `cdr --help` imports no adapter.
_CARD_PROFILES = ("medecin", "infirmier", "pharmacien", "cpe-secretaire", "cpf-interne")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdr",
        description="CDR Gateway: AMO rights lookups over HL7 v2 and FHIR R4, "
        "with an embedded regime sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"cdr-gateway {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the gateway (HTTP, and the sandbox by default)")
    serve.add_argument(
        "--host", metavar="ADDR", help="address the listeners bind (default 127.0.0.1, CDR_HOST)"
    )
    serve.add_argument("--http-port", type=int, help="HTTP port (default 8080, CDR_HTTP_PORT)")
    serve.add_argument(
        "--mllp-port",
        type=int,
        help="MLLP port of the HL7 listener (default 2575, CDR_MLLP_PORT)",
    )
    serve.add_argument(
        "--sandbox-port", type=int, help="embedded sandbox port (default 8090, CDR_SANDBOX_PORT)"
    )
    serve.add_argument("--workers", type=int, help="HTTP worker processes (default 1, CDR_WORKERS)")

    sandbox = sub.add_parser("sandbox", help="the embedded regime sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    sb_serve = sandbox_sub.add_parser("serve", help="run the sandbox alone")
    sb_serve.add_argument("--port", type=int, help="port (default 8090, CDR_SANDBOX_PORT)")
    sb_list = sandbox_sub.add_parser("list", help="list the synthetic beneficiaries")
    sb_list.add_argument("--json", action="store_true", help="machine-readable output")
    sb_list.add_argument("--scenario", metavar="TAG", help="only members tagged TAG")
    sb_list.add_argument("--regime", metavar="CODE", help="only members of regime CODE")

    lookup = sub.add_parser("lookup", help="look up a patient's AMO rights")
    lookup.add_argument("--nir", required=True, help="NIR or NIA, 13 or 15 characters")
    lookup.add_argument("--birth-date", metavar="YYYY-MM-DD", help="birth date (lunar allowed)")
    lookup.add_argument("--rang", default="1", help="rang de naissance (default 1)")
    lookup.add_argument("--regime", metavar="CODE", help="regime code (default: discovery)")
    lookup.add_argument("--date", metavar="YYYY-MM-DD", help="date of care (default today)")
    lookup.add_argument("--finess", help="requesting structure (default CDR_REQUESTER_FINESS)")
    lookup.add_argument("--rpps", help="requesting professional's RPPS")
    lookup.add_argument(
        "--card",
        action="store_true",
        help="attended mode: the CPx card in the reader signs, the lookup is its holder's",
    )
    lookup.add_argument("--reader", help="with --card: the reader (default: the first with a card)")
    lookup.add_argument(
        "--pin-stdin",
        action="store_true",
        help="with --card: read the PIN from the first line of standard input",
    )
    lookup.add_argument("--json", action="store_true", help="machine-readable output")

    regimes = sub.add_parser("regimes", help="the regime catalogue with live health")
    regimes.add_argument("--json", action="store_true", help="machine-readable output")

    outbox = sub.add_parser("outbox", help="HL7 results waiting for, or given up by, delivery")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    ob_list = outbox_sub.add_parser("list", help="list outbound messages")
    ob_list.add_argument(
        "--status",
        choices=["pending", "delivered", "dead"],
        help="only messages in this state (default: all)",
    )
    ob_list.add_argument("--limit", type=int, default=50, help="at most N messages (default 50)")
    ob_list.add_argument("--json", action="store_true", help="machine-readable output")
    ob_retry = outbox_sub.add_parser("retry", help="send dead-lettered messages again")
    ob_retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox ids")
    ob_retry.add_argument("--all", action="store_true", help="every dead-lettered message")
    ob_relookups = outbox_sub.add_parser(
        "relookups", help="admissions looked up again because a regime could not be asked"
    )
    ob_relookups.add_argument(
        "--status",
        choices=["pending", "final", "expired", "superseded"],
        help="only re-lookups in this state (default: all)",
    )
    ob_relookups.add_argument("--limit", type=int, default=50, help="at most N (default 50)")
    ob_relookups.add_argument("--json", action="store_true", help="machine-readable output")

    eligibility = sub.add_parser(
        "eligibility", help="whether a structure may use CDR (its FINESS category)"
    )
    eligibility.add_argument(
        "finess", metavar="FINESS", help="the structure's FINESS (9 characters)"
    )
    eligibility.add_argument(
        "--category",
        metavar="CODE",
        help="its FINESS category (default: from the sandbox's FINESS directory)",
    )
    eligibility.add_argument("--json", action="store_true", help="machine-readable output")

    pki = sub.add_parser("pki", help="the test PKI shaped like IGC-Santé")
    pki_sub = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    pki_init = pki_sub.add_parser("init", help="write a test root, sub-CAs, CRLs and certificates")
    pki_init.add_argument("directory", metavar="DIR", help="an empty or new directory")

    card = sub.add_parser("card", help="CPx cards: the emulated card, and the card in the reader")
    card_sub = card.add_subparsers(dest="card_command", required=True, metavar="ACTION")
    emulate = card_sub.add_parser(
        "emulate", help="run an emulated CPx card in the virtual reader (foreground)"
    )
    emulate.add_argument("--profile", required=True, choices=_CARD_PROFILES, help="card holder")
    emulate.add_argument(
        "--pki", metavar="DIR", help="test PKI from cdr pki init (default: made in the data dir)"
    )
    emulate.add_argument("--pin", default="1234", help="the card's PIN (default 1234)")
    emulate.add_argument("--host", default="127.0.0.1", help="address of the virtual reader (vpcd)")
    emulate.add_argument(
        "--port", type=int, default=35963, help="TCP port of the virtual reader (default 35963)"
    )
    status = card_sub.add_parser("status", help="the card in the reader: holder, validity, PIN")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    agent = card_sub.add_parser(
        "agent", help="the desk's card agent for the staff portal (loopback only, foreground)"
    )
    agent.add_argument(
        "--port", type=int, help="its port on 127.0.0.1 (default 8765, CDR_CARD_AGENT_PORT)"
    )
    agent.add_argument(
        "--origin",
        help="the portal's origin it answers (default the gateway's, CDR_CARD_AGENT_ORIGIN)",
    )

    clients = sub.add_parser(
        "clients", help="API clients (SMART Backend Services) allowed to ask for tokens"
    )
    clients_sub = clients.add_subparsers(dest="clients_command", required=True, metavar="ACTION")
    cl_add = clients_sub.add_parser(
        "add", help="register a client with its public keys and/or its TLS certificate"
    )
    cl_add.add_argument("name", metavar="NAME", help="the client id (its assertions' iss)")
    cl_add.add_argument(
        "--jwks",
        metavar="FILE_OR_URL",
        help="its public keys: a JWK Set file, or the https:// URL where it publishes them",
    )
    cl_add.add_argument(
        "--certificate",
        metavar="CERT_PEM",
        help="its TLS client certificate (PEM or DER; the first of a chain file): it may then "
        "call the API over mutual TLS without a token (CDR_HTTP_TLS_CLIENT_CA_FILE)",
    )
    cl_add.add_argument(
        "--scope",
        required=True,
        nargs="+",
        metavar="SCOPE",
        help="scopes it may be granted, e.g. system/CoverageEligibilityRequest.c system/*.rs",
    )
    cl_list = clients_sub.add_parser("list", help="the registered clients")
    cl_list.add_argument("--json", action="store_true", help="machine-readable output")
    cl_remove = clients_sub.add_parser("remove", help="unregister a client")
    cl_remove.add_argument("name", metavar="NAME")
    cl_keygen = clients_sub.add_parser(
        "keygen", help="make a key pair for a client: PREFIX.key.pem and PREFIX.jwks.json"
    )
    cl_keygen.add_argument("prefix", metavar="PREFIX", help="path and name of the two files")
    cl_keygen.add_argument("--alg", choices=["ES384", "RS384"], default="ES384")
    cl_token = clients_sub.add_parser(
        "token", help="get an access token from a running gateway, as client NAME"
    )
    cl_token.add_argument("name", metavar="NAME")
    cl_token.add_argument(
        "--key", required=True, metavar="PRIVATE_KEY_PEM", help="the client's private key"
    )
    cl_token.add_argument(
        "--scope", nargs="+", default=[], metavar="SCOPE", help="scopes asked (default: all)"
    )
    cl_token.add_argument(
        "--url", metavar="BASE", help="the FHIR base URL (default this gateway's, CDR_*)"
    )
    cl_token.add_argument(
        "--cacert", metavar="CA_PEM", help="CAs of an https gateway's certificate (PEM)"
    )

    audit = sub.add_parser("audit", help="the audit trail of lookups and refusals")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    au_verify = audit_sub.add_parser(
        "verify", help="check the hash chain: exit 0 intact, 1 naming the first bad event"
    )
    au_verify.add_argument("--json", action="store_true", help="print the verdict as JSON")

    purge = sub.add_parser(
        "purge",
        help="delete the lookups, FHIR answers and finished HL7 messages older than the "
        "retention period (CDR_RETENTION_DAYS)",
    )
    purge.add_argument(
        "--before",
        metavar="YYYY-MM-DD",
        help="delete what is older than the start of this day (the establishment's time zone)",
    )
    purge.add_argument(
        "--older-than-days",
        metavar="N",
        help="delete what is older than N days (default CDR_RETENTION_DAYS)",
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    purge.add_argument("--json", action="store_true", help="machine-readable output")

    conformance = sub.add_parser(
        "conformance", help="the conformance kit for interface testers (docs/conformance.md)"
    )
    cf_sub = conformance.add_subparsers(dest="conformance_command", required=True, metavar="ACTION")
    cf_list = cf_sub.add_parser("list", help="the cases: id, kind, title, the clause checked")
    cf_list.add_argument("--json", action="store_true", help="machine-readable output")
    cf_validate = cf_sub.add_parser(
        "validate",
        help="check HL7 v2 messages or FHIR $submit bodies by the gateway's own rules: "
        "exit 0 all valid, 1 some invalid, 2 some unreadable",
    )
    cf_validate.add_argument("files", nargs="+", metavar="FILE")
    cf_run = cf_sub.add_parser(
        "run", help="run the cases against a FHIR base and an MLLP listener: exit 1 on a failure"
    )
    cf_run.add_argument("--fhir", metavar="URL", help="FHIR base, e.g. http://127.0.0.1:8080/fhir")
    cf_run.add_argument("--mllp", metavar="HOST:PORT", help="MLLP listener, e.g. 127.0.0.1:2575")
    cf_run.add_argument(
        "--only",
        metavar="TAG",
        action="append",
        default=[],
        help="run the cases with this tag or id (hl7, fhir, ack-rule, bad-input …; repeatable)",
    )
    cf_run.add_argument(
        "--timeout", metavar="S", type=float, default=10.0, help="per exchange (default 10 s)"
    )
    cf_run.add_argument(
        "--population",
        metavar="FILE",
        help="the target's people: a file (JSON of `cdr sandbox list --json`) or a URL serving "
        "it (the sandbox's /admin/population); cases about others skip",
    )
    cf_run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    cf_run.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    cf_run.add_argument("--json", dest="json_file", metavar="FILE", help="write a JSON report")
    cf_run.add_argument(
        "--client", metavar="NAME", help="a SMART backend-services client of the target (--key)"
    )
    cf_run.add_argument("--key", metavar="PEM", help="that client's private key (RSA or EC P-384)")
    cf_run.add_argument(
        "--scope",
        default="system/CoverageEligibilityRequest.c",
        help="the scopes asked with --client (default system/CoverageEligibilityRequest.c)",
    )
    cf_run.add_argument("--cert", metavar="PEM", help="a TLS client certificate to present")
    cf_run.add_argument("--cert-key", metavar="PEM", help="its key (default: in --cert's file)")
    cf_run.add_argument("--ca", metavar="PEM", help="the CAs to trust for the target's TLS")
    cf_run.add_argument("--mllp-tls", action="store_true", help="MLLP over TLS (--ca, --cert)")
    cf_simulate = cf_sub.add_parser(
        "simulate", help="play a system around the gateway (bus: the engine's inbound channel)"
    )
    cf_simulate_sub = cf_simulate.add_subparsers(
        dest="simulate_command", required=True, metavar="SYSTEM"
    )
    cf_bus = cf_simulate_sub.add_parser(
        "bus", help="an MLLP receiver checking and recording the results a gateway sends"
    )
    cf_bus.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    cf_bus.add_argument("--port", type=int, required=True, help="MLLP port (0: any free one)")
    cf_bus.add_argument(
        "--no-zrd", action="store_true", help='the gateway sends no ZRD ("zrd": false)'
    )
    cf_bus.add_argument("--junit", metavar="FILE", help="write a JUnit XML report at the end")
    cf_bus.add_argument("--html", metavar="FILE", help="write an HTML report at the end")
    cf_bus.add_argument("--json", dest="json_file", metavar="FILE", help="write a JSON report")
    cf_gateway = cf_simulate_sub.add_parser(
        "gateway", help="answer admissions and $submit as the gateway does, from fixtures only"
    )
    cf_gateway.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    cf_gateway.add_argument("--mllp-port", type=int, default=2575, help="MLLP (default 2575)")
    cf_gateway.add_argument("--fhir-port", type=int, default=8080, help="FHIR (default 8080)")
    cf_gateway.add_argument(
        "--bus", metavar="HOST:PORT", help="send a result there after each accepted admission"
    )
    cf_fixtures = cf_sub.add_parser("fixtures", help="the cases' files, for other tools")
    cf_fixtures_sub = cf_fixtures.add_subparsers(
        dest="fixtures_command", required=True, metavar="ACTION"
    )
    cf_export = cf_fixtures_sub.add_parser(
        "export",
        help="write the manifest, every input and each FHIR case as an R4 TestScript to DIR "
        "(new or empty)",
    )
    cf_export.add_argument("directory", metavar="DIR")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply the schema migrations")
    return parser


def _settings(overrides: dict[str, Any], *, serving: bool = False) -> Settings:
    """The settings of a command. Every command but the servers uses the demo's test PKI when
    `cdr serve` made one (``cdr.demo_security``); the servers make it, and say so."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**given)
        if serving:
            return settings
        from cdr.demo_security import with_demo_security  # its PKI code only when needed

        return with_demo_security(settings, create=False)
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(_setting_error(err, options=given.keys()) for err in exc.errors())
        ) from exc
    except SettingsError as exc:  # a source that cannot be read at all (e.g. the .env file)
        raise ConfigError(str(exc)) from exc


# The command-line options that stand for a setting (``_dispatch``), named in its errors.
_OPTIONS = {
    "http_port": "--http-port",
    "mllp_port": "--mllp-port",
    "sandbox_port": "--sandbox-port/--port",
    "workers": "--workers",
    "requester_finess": "--finess",
}


def _setting_error(error: ErrorDetails, *, options: Collection[str] = ()) -> str:
    """``CDR_HTTP_PORT: Input should be a valid integer (got 'abc')``: the variable (or the
    option that set it), the check, and the value unless it may hold a secret (a database URL
    carries a password)."""
    if not error["loc"]:
        # A check across settings (a model validator): its message names the variables.
        return error["msg"].removeprefix("Value error, ")
    field, *path = error["loc"]
    name = f"CDR_{str(field).upper()}" + "".join(f"[{p!r}]" for p in path)
    if str(field) in options:
        name = _OPTIONS.get(str(field), name)
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, str | int | float) and field != "database_url" and not path:
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
        message += f" (got {shown})"
    return f"{name}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Commands other than the servers print their own results; the service's log lines (a
    # regime failure during `cdr lookup`) would only repeat them, through logging's last-resort
    # handler. `cdr serve` configures logging and is not affected.
    cdr_logger = logging.getLogger("cdr")
    if not cdr_logger.handlers:
        cdr_logger.addHandler(logging.NullHandler())
    try:
        return _dispatch(args)
    except InputError as exc:
        where = f"{exc.location}: " if exc.location else ""
        check = getattr(exc, "check", None)
        suffix = f" [{check} check failed]" if check else ""
        if isinstance(exc, IdentifierKeyError):
            suffix = f" [key check failed, expected key {exc.expected_key}]"
        print(f"cdr: error: {where}{exc.message}{suffix}", file=sys.stderr)
        if getattr(args, "json", False):
            # Machine consumers read stdout: give them the same facts, structured.
            print_json({"error": _input_error_json(exc)})
        return EXIT_INPUT
    except ConfigError as exc:
        print(f"cdr: configuration error: {exc.message}", file=sys.stderr)
        return EXIT_INPUT
    except CdrError as exc:
        print(f"cdr: error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # The reader went away (`cdr lookup --json | head`): nothing left to say, and no trace.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _input_error_json(exc: InputError) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": type(exc).__name__,
        "location": exc.location,
        "message": exc.message,
    }
    check = getattr(exc, "check", None)
    if check:
        error["check"] = check
    if isinstance(exc, IdentifierKeyError):
        error["expected_key"] = exc.expected_key
    return error


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "card":
        # Before `commands`: a desk command answers in a blink, without the servers' imports.
        from pathlib import Path

        from cdr import card_commands

        if args.card_command == "status":
            return card_commands.card_status(args.json)
        if args.card_command == "agent":
            settings = _settings({"card_agent_port": args.port, "card_agent_origin": args.origin})
            return card_commands.card_agent(settings)
        return card_commands.card_emulate(
            _settings({}),
            profile=args.profile,
            pki=Path(args.pki) if args.pki else None,
            pin=args.pin,
            host=args.host,
            port=args.port,
        )
    # Imported here so that `cdr --help` stays fast and cannot fail on an adapter import.
    from cdr import commands

    if args.command == "serve":
        settings = _settings(
            {
                "host": args.host,
                "http_port": args.http_port,
                "mllp_port": args.mllp_port,
                "sandbox_port": args.sandbox_port,
                "workers": args.workers,
            },
            serving=True,
        )
        from cdr import serve_commands

        return serve_commands.serve(settings)
    if args.command == "sandbox":
        if args.sandbox_command == "serve":
            from cdr.serve_commands import sandbox_serve

            return sandbox_serve(_settings({"sandbox_port": args.port}, serving=True))
        return commands.sandbox_list(
            _settings({}), as_json=args.json, scenario=args.scenario, regime=args.regime
        )
    if args.command == "lookup":
        settings = _settings({"requester_finess": args.finess})
        return asyncio.run(commands.lookup(settings, args))
    if args.command == "regimes":
        return asyncio.run(commands.regimes(_settings({}), as_json=args.json))
    if args.command == "outbox":
        if args.outbox_command == "list":
            return commands.outbox_list(
                _settings({}), status=args.status, limit=args.limit, as_json=args.json
            )
        if args.outbox_command == "relookups":
            from cdr.relookup_commands import outbox_relookups

            return outbox_relookups(
                _settings({}), status=args.status, limit=args.limit, as_json=args.json
            )
        return commands.outbox_retry(_settings({}), ids=args.ids, every=args.all)
    if args.command == "eligibility":
        from cdr.eligibility_commands import eligibility

        return eligibility(args.finess, category=args.category, as_json=args.json)
    if args.command == "pki":
        from pathlib import Path

        from cdr.pki_commands import pki_init

        return pki_init(_settings({}), Path(args.directory))
    if args.command == "clients":
        return _clients(args)
    if args.command == "audit":
        from cdr.audit_commands import audit_verify

        return audit_verify(_settings({}), as_json=args.json)

    if args.command == "purge":
        from cdr.purge_commands import purge_command

        return purge_command(
            _settings({}),
            before=args.before,
            older_than_days=args.older_than_days,
            dry_run=args.dry_run,
            as_json=args.json,
        )
    if args.command == "conformance":
        return _conformance(args)
    if args.command == "db":
        return commands.db_upgrade(_settings({}))
    raise AssertionError(args.command)  # argparse refuses unknown commands


def _conformance(args: argparse.Namespace) -> int:
    from cdr import conformance_commands

    action = args.conformance_command
    if action == "list":
        return conformance_commands.conformance_list(as_json=args.json)
    if action == "simulate" and args.simulate_command == "gateway":
        return conformance_commands.conformance_simulate_gateway(
            _settings({}),
            host=args.host,
            mllp_port=args.mllp_port,
            fhir_port=args.fhir_port,
            bus=args.bus,
        )
    if action == "simulate":
        return conformance_commands.conformance_simulate_bus(
            host=args.host,
            port=args.port,
            zrd=not args.no_zrd,
            junit=args.junit,
            html=args.html,
            json_file=args.json_file,
        )
    if action == "validate":
        return conformance_commands.conformance_validate(_settings({}), args.files)
    if action == "fixtures":
        return conformance_commands.conformance_fixtures_export(args.directory)
    return conformance_commands.conformance_run(
        fhir=args.fhir,
        mllp=args.mllp,
        only=args.only,
        population=args.population,
        timeout=args.timeout,
        junit=args.junit,
        html=args.html,
        json_file=args.json_file,
        credentials=conformance_commands.credentials_from(
            client=args.client,
            key=args.key,
            scope=args.scope,
            cert=args.cert,
            cert_key=args.cert_key,
            ca=args.ca,
        ),
        mllp_tls=args.mllp_tls,
    )


def _clients(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cdr import client_commands

    action = args.clients_command
    if action == "keygen":
        return client_commands.clients_keygen(Path(args.prefix), alg=args.alg)
    settings = _settings({})
    if action == "add":
        return client_commands.clients_add(
            settings,
            args.name,
            jwks=args.jwks,
            scopes=args.scope,
            certificate=Path(args.certificate) if args.certificate else None,
        )
    if action == "list":
        return client_commands.clients_list(settings, as_json=args.json)
    if action == "remove":
        return client_commands.clients_remove(settings, args.name)
    return client_commands.clients_token(
        settings,
        args.name,
        key_file=Path(args.key),
        scopes=args.scope,
        url=args.url,
        ca_file=Path(args.cacert) if args.cacert else None,
    )


if __name__ == "__main__":
    raise SystemExit(main())
