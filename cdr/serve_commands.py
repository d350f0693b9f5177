"""`cdr serve` and `cdr sandbox serve`: the whole system, or the sandbox alone, in the
foreground; the listening sockets bound first (a busy port is a clear error), the structure
checked before any of them, the HTTP side on uvicorn with the gateway's own protocol."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
from typing import Any

import uvicorn

from card.vpcd import VirtualCardLink
from cdr import event_loop
from cdr.asgi import FACTORY
from cdr.bootstrap import (
    build_audit_forwarder,
    build_gateway,
    build_http_app,
    build_psc_provider,
    build_sandbox,
    prepare_storage,
    publish_conformance,
    sandbox_tls,
)
from cdr.demo_security import DemoCard, demo_card, start_demo_card, with_demo_security
from cdr.eligibility_commands import check_own_structure
from cdr.event_loop import uvicorn_loop
from cdr.exits import EXIT_OK
from cdr.exposure import check_exposure
from cdr.hl7_process import Hl7ProcessingProcess
from cdr.hl7_runtime import Hl7Runtime
from cdr.hl7_thread import Hl7Thread
from cdr.http_guard import HttpLimits, http_limits
from cdr.http_tls import HttpTls, api_protocol, http_tls
from cdr.logs import configure_logging
from cdr.settings import Settings
from cdr.storage import Database
from cdr.token_key import load_or_create_token_key
from rights.errors import ConfigError
from sandbox.server import RunningServer, SandboxTls, start_in_thread
from sandbox.tls_peer import TlsPeerHttpProtocol

__all__ = ["SHUTDOWN_GRACE_S", "sandbox_serve", "serve"]

log = logging.getLogger("cdr")


def _logging(settings: Settings) -> None:
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)


# On SIGTERM, requests still running after this are cancelled (a search's query with them,
# fhir_server/search_run.py), so that the server stops within a bound whatever runs (issue 19).
SHUTDOWN_GRACE_S = 5


def _uvicorn(
    app: Any,
    host: str,
    port: int,
    *,
    limits: HttpLimits | None = None,
    tls: SandboxTls | HttpTls | None = None,
) -> uvicorn.Server:
    """``limits``: the gateway's API, whose clients are held to them and whose responses go out
    in one write each (``cdr.http_guard``), over HTTPS when ``tls`` says so (``cdr.http_tls``);
    the embedded sandbox keeps uvicorn's own protocol, over TLS when ``tls`` says so, then
    telling the sandbox each connection's client certificate (``sandbox.tls_peer``).
    ``log_config=None``: uvicorn's own messages go through the service's log (JSON lines)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,
        access_log=False,
        http=(
            api_protocol(limits, tls=tls is not None)
            if limits is not None
            else TlsPeerHttpProtocol
            if isinstance(tls, SandboxTls)
            else "auto"
        ),
        ws="none" if limits is not None else "auto",  # the API serves no WebSocket
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        **({} if tls is None else tls.uvicorn_options()),
    )
    return uvicorn.Server(config)


def _listen(host: str, port: int, setting: str) -> socket.socket:
    """Bind before starting, so that a busy port is a clear error naming the setting.

    The socket says IPPROTO_TCP: asyncio sets TCP_NODELAY on an accepted connection only when
    its ``proto`` is TCP (``base_events._set_nodelay``), and connections inherit 0 from a socket
    made by ``socket.create_server``. Without it Nagle holds each response body behind its
    headers until the client's delayed ACK: 40 ms added to every request on Linux.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":  # as create_server: rebind at once after a restart
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({setting}): {exc.strerror or exc}"
        ) from exc
    return sock


def serve(settings: Settings) -> int:
    """Run the whole system: the embedded sandbox (unless CDR_REGIMES_URL is set) and the HTTP
    API, in one process, or with ``settings.workers`` HTTP worker processes."""
    _logging(settings)
    # Before any socket opens: a structure CDR does not serve, or listeners open to the
    # network without authentication, are refused in one line.
    check_own_structure(settings.requester_finess, settings.structure_category)
    log.warning(check_exposure(settings))
    card = demo_card(settings)
    settings = with_demo_security(settings, create=True)
    tls = http_tls(settings)
    if tls is not None:
        tls.context()  # a file that cannot be used is a one-line refusal before any socket
    if settings.auth == "on":
        # Made (or read) once here: a bad key file is a one-line refusal before any socket,
        # and the worker processes all find the same key.
        load_or_create_token_key(
            settings.effective_token_key_file, create=settings.auth_token_key_file is None
        )
    settings = _share_metrics(settings)
    link = None if card is None else _start_demo_card(card)
    # The desk's card agent too, for the demo on one machine: the portal's card login then
    # works with the demo card as soon as the page opens (a real desk runs `cdr card agent`).
    agent = None if card is None else _start_demo_agent(settings)
    try:
        if settings.workers > 1:
            return _serve_workers(settings)
        return event_loop.run(_serve(settings), choice=settings.event_loop)
    finally:
        if link is not None:
            link.stop()
        if agent is not None:
            agent.stop()


def _start_demo_agent(settings: Settings) -> RunningServer | None:
    from card.agent import CardAgent, create_agent_app
    from card.pcsc import PcscReader

    port, origin = settings.card_agent_port, settings.effective_card_agent_origin
    agent = CardAgent(PcscReader(), lambda: datetime.datetime.now(datetime.UTC))
    try:
        running = start_in_thread(create_agent_app(agent, origin=origin, port=port), port=port)
    except ConfigError:
        log.info("card agent       not started: 127.0.0.1:%d is in use", port)
        return None
    log.info("card agent       http://127.0.0.1:%d for the portal at %s", port, origin)
    return running


def _start_demo_card(card: DemoCard) -> VirtualCardLink:
    link, reader = start_demo_card(card)
    where = f"{link.host}:{link.port}"
    if reader:
        log.info("demo card        %s, in the virtual reader (%s)", card.describe(), where)
    else:
        log.info(
            "demo card        %s; no virtual reader at %s: start pcscd (Debian packages "
            "pcscd, vsmartcard-vpcd) to use it",
            card.describe(),
            where,
        )
    return link


def _share_metrics(settings: Settings) -> Settings:
    """Every process of this server sums its counters into one directory (``cdr.metrics``),
    emptied first: the numbers of a previous run are not this run's."""
    directory = (settings.metrics_dir or settings.data_dir / "metrics").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in [*directory.glob("*.json"), *directory.glob("*.tmp")]:
        stale.unlink(missing_ok=True)
    # Worker processes read their settings from the environment.
    os.environ["CDR_METRICS_DIR"] = str(directory)
    return settings.model_copy(update={"metrics_dir": directory})


async def _serve(settings: Settings) -> int:
    servers: list[tuple[uvicorn.Server, socket.socket]] = []
    sandbox = None
    if settings.uses_embedded_sandbox:
        sandbox_socket = _listen(
            settings.sandbox_host, settings.sandbox_port, "CDR_SANDBOX_PORT / --sandbox-port"
        )
        sandbox, settings = _start_sandbox(settings, sandbox_socket)
        psc_socket, settings = _listen_psc(settings)
        servers.append(
            (
                _uvicorn(
                    build_psc_provider(settings), settings.sandbox_host, settings.sandbox_psc_port
                ),
                psc_socket,
            )
        )
    http_socket = _listen(settings.http_host, settings.http_port, "CDR_HTTP_PORT / --http-port")
    mllp_socket = _listen(settings.mllp_host, settings.mllp_port, "CDR_MLLP_PORT / --mllp-port")
    gateway = build_gateway(settings)
    await asyncio.to_thread(publish_conformance, gateway)
    split = settings.hl7_processing_process
    hl7 = Hl7Runtime(gateway, processing=not split)
    processing = Hl7ProcessingProcess(settings) if split else None
    app = build_http_app(gateway)
    api = _uvicorn(
        app,
        settings.http_host,
        settings.http_port,
        limits=http_limits(settings),
        tls=http_tls(settings),
    )
    servers.append((api, http_socket))
    await hl7.start(sock=mllp_socket)
    if processing is not None:
        processing.start()
    forwarder = build_audit_forwarder(settings, gateway.database.engine)
    if forwarder is not None:
        forwarder.start()
    _log_gateway(settings, gateway.database.engine.url.render_as_string(hide_password=True))
    try:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    finally:
        if forwarder is not None:
            await asyncio.to_thread(forwarder.stop)
        await hl7.stop()
        if processing is not None:
            await asyncio.to_thread(processing.stop)
        if sandbox is not None:
            await asyncio.to_thread(sandbox.stop)
    return EXIT_OK


def _serve_workers(settings: Settings) -> int:
    """The parent of N uvicorn workers: it migrates once, runs the embedded sandbox in a thread
    (one sandbox, whatever N) and supervises; each worker builds its own gateway (engine, regime
    clients, cache) from the environment with ``cdr.asgi.create_gateway_app``."""
    sandbox_socket = None
    if settings.uses_embedded_sandbox:
        sandbox_socket = _listen(
            settings.sandbox_host, settings.sandbox_port, "CDR_SANDBOX_PORT / --sandbox-port"
        )
    # uvicorn binds the port itself for its workers: try it first, so that a busy port is the
    # same clear error as with one process; port 0 becomes the port the system chose.
    with _listen(settings.http_host, settings.http_port, "CDR_HTTP_PORT / --http-port") as probe:
        http_port = int(probe.getsockname()[1])
    settings = settings.model_copy(update={"http_port": http_port})
    mllp_socket = _listen(settings.mllp_host, settings.mllp_port, "CDR_MLLP_PORT / --mllp-port")
    settings = settings.model_copy(update={"mllp_port": int(mllp_socket.getsockname()[1])})
    database_url = prepare_storage(settings)
    sandbox = psc = None
    if sandbox_socket is not None:
        sandbox, settings = _start_sandbox(settings, sandbox_socket)
        psc_socket, settings = _listen_psc(settings)
        psc = start_in_thread(
            build_psc_provider(settings),
            settings.sandbox_host,
            settings.sandbox_psc_port,
            sock=psc_socket,
        )
    # Workers read Settings() from the environment: the command-line options go down that way.
    os.environ.update(
        CDR_HTTP_HOST=settings.http_host,
        CDR_HTTP_PORT=str(settings.http_port),
        CDR_MLLP_HOST=settings.mllp_host,
        CDR_MLLP_PORT=str(settings.mllp_port),
        CDR_SANDBOX_PORT=str(settings.sandbox_port),
        CDR_SANDBOX_PSC_PORT=str(settings.sandbox_psc_port),
    )
    hl7 = Hl7Thread(settings, mllp_socket)
    hl7.start()
    processing = Hl7ProcessingProcess(settings) if settings.hl7_processing_process else None
    if processing is not None:
        processing.start()
    # One copy of the audit trail to the collector, from this parent, whatever N.
    audit_database = Database(settings.effective_database_url)
    forwarder = build_audit_forwarder(settings, audit_database.engine)
    if forwarder is not None:
        forwarder.start()
    _log_gateway(settings, database_url)
    log.info("HTTP workers     %d processes", settings.workers)
    tls = http_tls(settings)
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=settings.http_host,
            port=settings.http_port,
            workers=settings.workers,
            loop=uvicorn_loop(settings.event_loop),
            log_level="warning",
            log_config=None,
            access_log=False,
            http=api_protocol(http_limits(settings), tls=tls is not None),
            ws="none",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            **({} if tls is None else tls.uvicorn_options()),
        )
    finally:
        if forwarder is not None:
            forwarder.stop()
        audit_database.dispose()
        hl7.stop()
        if processing is not None:
            processing.stop()
        if sandbox is not None:
            sandbox.stop()
        if psc is not None:
            psc.stop()
    return EXIT_OK


def _listen_psc(settings: Settings) -> tuple[socket.socket, Settings]:
    """The socket of the sandbox's Pro Santé Connect look-alike, and the settings naming its
    port (port 0: the one the system chose), which the portal's issuer is made of."""
    sock = _listen(settings.sandbox_host, settings.sandbox_psc_port, "CDR_SANDBOX_PSC_PORT")
    settings = settings.model_copy(update={"sandbox_psc_port": int(sock.getsockname()[1])})
    log.info("Pro Santé Connect %s  (the sandbox's look-alike)", settings.effective_psc_issuer)
    return sock, settings


def _start_sandbox(settings: Settings, sock: socket.socket) -> tuple[RunningServer, Settings]:
    """The embedded sandbox on ``sock``, on a thread and an event loop of its own (whatever the
    number of workers): the regimes' side (its TLS, the check of every assertion) must not hold
    up the loop where the MLLP intake and the API answer; in production it is another machine.
    The settings come back with the port it listens on (port 0: the one chosen)."""
    sandbox = start_in_thread(
        build_sandbox(settings),
        settings.sandbox_host,
        settings.sandbox_port,
        sock=sock,
        tls=sandbox_tls(settings),
    )
    settings = settings.model_copy(update={"sandbox_port": sandbox.port})
    _log_sandbox(settings)
    return sandbox, settings


def _log_sandbox(settings: Settings) -> None:
    log.info(
        "regime sandbox   %s://%s:%d  (17 regimes, seed %d)",
        settings.sandbox_scheme,
        settings.sandbox_host,
        settings.sandbox_port,
        settings.sandbox_seed,
    )
    if settings.sandbox_require_assertions:
        log.info(
            "regime security  mutual TLS and a signed assertion on every call (test PKI: %s)",
            settings.regimes_ca_file.parent.parent if settings.regimes_ca_file else "configured",
        )


def _log_gateway(settings: Settings, database_url: str) -> None:
    tls = http_tls(settings)
    log.info(
        "FHIR API         %s  (%s; metadata, CoverageEligibilityRequest/$submit)",
        settings.effective_fhir_base_url,
        "plain HTTP" if tls is None else tls.description,
    )
    log.info(
        "staff portal     %s/  (log in with Pro Santé Connect: %s)",
        settings.effective_fhir_base_url.removesuffix("/fhir"),
        settings.effective_psc_issuer,
    )
    if settings.mllp_tls_cert_file is None:
        security = "plain MLLP"
    elif settings.mllp_tls_client_ca_file is None:
        security = "TLS"
    else:
        security = "TLS, client certificates required"
    log.info(
        "HL7 MLLP         %s:%d  (%s; ADT A01/A04/A05/A28/A31/Z99, RQI^I01)",
        settings.mllp_host,
        settings.mllp_port,
        security,
    )
    if settings.hl7_destinations:
        log.info("HL7 results to   %s", ", ".join(settings.hl7_destinations))
    else:
        # Said at start-up so that nobody waits for results that have nowhere to go.
        log.info("HL7 results to   nowhere: no destination (set CDR_HL7_DESTINATIONS)")
    log.info("database         %s", database_url)
    log.info("try: cdr sandbox list, then cdr lookup --nir <NIR>   (Ctrl-C stops)")


def sandbox_serve(settings: Settings) -> int:
    _logging(settings)
    settings = with_demo_security(settings, create=True)
    sock = _listen(settings.sandbox_host, settings.sandbox_port, "CDR_SANDBOX_PORT / --port")
    app = build_sandbox(settings)
    log.info(
        "regime sandbox   %s://%s:%d",
        settings.sandbox_scheme,
        settings.sandbox_host,
        settings.sandbox_port,
    )
    server = _uvicorn(app, settings.sandbox_host, settings.sandbox_port, tls=sandbox_tls(settings))
    event_loop.run(server.serve(sockets=[sock]), choice=settings.event_loop)
    return EXIT_OK
