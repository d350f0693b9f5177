"""The HL7 side of the gateway, wired: MLLP server, durable inbox, worker pool, outbound sender.

Part of the composition root: the only place the listener meets storage and the lookup service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import secrets
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import httpx

from cdr.bootstrap import Gateway
from cdr.logs import with_entry
from cdr.purge_loop import purge_loop_for
from cdr.settings import Settings, mllp_address
from cdr.storage.inbox import SqlInbox
from cdr.storage.outbox import SqlOutbox
from cdr.storage.relookups import SqlRelookups
from cdr.storage.transactions import HeldConnection
from cdr.storage.writer import GroupCommit, LocalFirstCommit, on_loop
from fhir_server.context import correlation_id
from hl7_listener.client import MllpClient
from hl7_listener.fhir_delivery import FhirDelivery
from hl7_listener.outbound import Delivery, OutboundSender
from hl7_listener.ports import InboundMessage, PendingMessage, StoreOutcome
from hl7_listener.processing import (
    AdmissionProcessor,
    Processed,
    ResultOptions,
    is_fhir_destination,
)
from hl7_listener.relookup import RelookupLoop
from hl7_listener.relookup_policy import RelookupPolicy
from hl7_listener.router import Intake, IntakeOptions
from hl7_listener.server import MllpServer
from hl7_listener.tls import MllpTls, server_context
from hl7_listener.worker import InboxWorker
from rights.caller import Caller, Entry
from rights.errors import ConfigError
from rights.model import RightsQuery
from rights.result import LookupReport

__all__ = ["Hl7Runtime", "new_control_id"]

log = logging.getLogger("cdr")


_PROCESS_PREFIX = secrets.token_hex(4).upper()
_SEQUENCE = itertools.count(1)


_STOP_S = 10.0


async def _settled(tasks: set[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


async def _bounded(name: str, step: Awaitable[None], timeout_s: float) -> None:
    try:
        await asyncio.wait_for(step, timeout_s)
    except TimeoutError:
        log.error("HL7 stop: %s did not stop within %.0f s; left behind", name, timeout_s)


def new_control_id() -> str:
    """20 characters, the length of MSH-10 (ST 20) in HL7 v2.5, unique without coordination: a
    random prefix per process and a counter (one urandom call per ACK cost more than the ACK)."""
    return f"{_PROCESS_PREFIX}{next(_SEQUENCE):012d}"


def _nothing() -> None:
    pass


def _correlated(
    process: Callable[[PendingMessage], Awaitable[Processed]],
) -> Callable[[PendingMessage], Awaitable[Processed]]:
    """The processing of a stored message, its log lines (the lookup, a regime failing) carrying
    the message's MSH-10 as correlation id: what the sender's engine shows for that message."""

    async def process_correlated(pending: PendingMessage) -> Processed:
        token = correlation_id.set(_control_id(pending.raw))
        try:
            return await process(pending)
        finally:
            correlation_id.reset(token)

    return process_correlated


def _control_id(raw: bytes) -> str:
    """MSH-10 of a stored message (accepted, so its MSH is readable), unescaped or not."""
    end = raw.find(b"\r")
    msh = raw if end < 0 else raw[:end]
    fields = msh.split(msh[3:4] or b"|")
    return fields[9].decode("latin-1") if len(fields) > 9 else ""


class Hl7Runtime:
    """``intake``: serve MLLP (ACKs, duplicates, RQI). ``processing``: run the lookups from the
    inbox and deliver the results. ``cdr serve`` runs them in two processes (see
    ``cdr/hl7_process.py``); tests and embedders may run both in one."""

    def __init__(self, gateway: Gateway, *, intake: bool = True, processing: bool = True) -> None:
        settings = gateway.settings
        self._intake_enabled = intake
        self._processing_enabled = processing
        self._gateway = gateway
        self.inbox = SqlInbox(gateway.database.engine, store=gateway.writes.inbox)
        self.outbox = SqlOutbox(gateway.database.engine)
        writer = gateway.writer.run
        # The AA waits for its commit; messages arriving meanwhile share the next transaction.
        # On SQLite the commit is made on the event loop itself: a local WAL commit costs less
        # than handing the batch to the writer thread and back (measured: about 70 µs a
        # message, the GIL changing hands). Its engine never waits for the lock: when the
        # processing process holds it, the batch is tried again after short sleeps on the
        # loop, then goes to the writer thread, which waits (``LocalFirstCommit``).
        # With CDR_SQLITE_SYNCHRONOUS=full (the default) each batch's commit is then flushed
        # to disk on a thread of its own before its ACKs leave (cdr/storage/durability.py):
        # an AA'd message survives a power loss. Messages arriving during a flush are
        # committed together once it ends, and flushed together. The intake's own commits
        # run on one connection kept open (``HeldConnection``): no pool check-out per batch.
        self._no_wait_engine = gateway.database.no_wait_engine() if intake else None
        self._held = None if self._no_wait_engine is None else HeldConnection(self._no_wait_engine)
        wal_sync = gateway.database.wal_sync() if intake else None
        sync = wal_sync.sync if wal_sync is not None else None
        self._commits: LocalFirstCommit[InboundMessage, StoreOutcome] = LocalFirstCommit(
            None
            if self._no_wait_engine is None
            else GroupCommit(
                SqlInbox(
                    self._no_wait_engine, store=gateway.writes.inbox, writes=self._held
                ).store_many,
                on_loop,
                max_batch=500,
                durable=sync,
            ),
            GroupCommit(self.inbox.store_many, writer, max_batch=500, durable=sync),
        )
        clock = gateway.clock
        self.sender = OutboundSender(
            outbox=self.outbox,
            blocking=writer,
            connect=self._connect,
            now=clock.now,
            destinations=settings.hl7_destinations,
            max_attempts=settings.hl7_outbound_max_attempts,
            backoff_s=settings.hl7_outbound_backoff_s,
            backoff_max_s=settings.hl7_outbound_backoff_max_s,
        )
        relookup_policy = RelookupPolicy(
            window_s=settings.hl7_relookup_window_s,
            backoff_s=settings.hl7_relookup_backoff_s,
            backoff_max_s=settings.hl7_relookup_backoff_max_s,
        )
        processor = AdmissionProcessor(
            catalogue=gateway.catalogue,
            requester=gateway.default_requester,
            run_lookup=with_entry("hl7", self._run_lookup),
            destinations=settings.hl7_destinations,
            kind=settings.hl7_result_message,
            application=settings.hl7_application,
            facility=settings.hl7_facility,
            # The establishment's wall time: MSH-7 with its offset.
            now=clock.local_now,
            new_control_id=new_control_id,
            options={
                destination: ResultOptions(charset=o.charset, zrd=o.zrd)
                for destination, o in settings.hl7_destination_options.items()
            },
            relookup=relookup_policy if settings.hl7_relookup_window_s > 0 else None,
            zone=clock.zone,
        )
        self.relookups = SqlRelookups(gateway.database.engine)
        # Runs even with the window at 0: re-lookups recorded before it was set still close.
        self.relookup_loop = RelookupLoop(
            store=self.relookups,
            blocking=writer,
            again=lambda pending, last: processor.again(pending, last=last),
            policy=relookup_policy,
            now=clock.now,
            poll_interval_s=min(1.0, settings.hl7_relookup_backoff_s),
            on_queued=self.sender.wake,
        )
        # The periodic purge (cdr/purge_loop.py) runs beside the processing, which `cdr serve`
        # has once whatever the number of HTTP workers.
        self.purge_loop = purge_loop_for(gateway) if processing else None
        self.worker = InboxWorker(
            inbox=self.inbox,
            blocking=writer,
            process=_correlated(processor),
            now=clock.now,
            lanes=settings.hl7_lanes,
            # Alone in its process, nobody wakes the worker: it polls the inbox instead.
            poll_interval_s=1.0 if intake else 0.05,
            on_processed=self.sender.wake,
        )
        self.intake = Intake(
            options=IntakeOptions(
                application=settings.hl7_application,
                facility=settings.hl7_facility,
                other_events=settings.hl7_other_events,
            ),
            catalogue=gateway.catalogue,
            requester=gateway.default_requester,
            # The establishment's wall time: the default date of care and the ACK's MSH-7.
            now=clock.local_now,
            new_control_id=new_control_id,
            store=self._store,
            query=with_entry("hl7", self._query),
            on_accepted=self.worker.wake if processing else _nothing,
        )
        self.server = MllpServer(
            self.intake.handle,
            on_oversize=self.intake.handle_oversize,
            idle_timeout_s=settings.mllp_idle_timeout_s,
            max_message_bytes=settings.mllp_max_message_bytes,
            max_connections=settings.mllp_max_connections,
            max_pending_bytes=settings.mllp_max_pending_bytes,
            max_pending_bytes_total=settings.mllp_max_pending_bytes_total,
            allowed_peers=[
                ipaddress.ip_network(peer, strict=False) for peer in settings.mllp_allowed_peers
            ],
            tls=_mllp_tls(settings) if intake else None,
            on_refused=self._audit_refusal if gateway.audit is not None else None,
        )
        self._auditing: set[asyncio.Task[None]] = set()
        gateway.metrics.add_source(self._render_metrics)
        gateway.metrics.add_source(self._render_relookup_metrics)
        # Counters are summed over the processes of `cdr serve` (cdr/metrics.py): the intake
        # and the processing side may each live in a process of their own.
        if intake:
            gateway.metrics.add_counter(
                "cdr_hl7_messages_total",
                "HL7 messages received, by acknowledgement",
                ("ack",),
                self._message_counts,
            )
        if processing:
            gateway.metrics.add_counter(
                "cdr_hl7_outbound_total",
                "Outbound delivery attempts, by result",
                ("result",),
                self._outbound_counts,
            )

    async def start(self, sock: socket.socket | None = None) -> None:
        settings = self._gateway.settings
        if self._processing_enabled:
            self.worker.start()
            self.sender.start()
            self.relookup_loop.start()
            if self.purge_loop is not None:
                self.purge_loop.start()
        if self._intake_enabled:
            await self.server.start(settings.mllp_host, settings.mllp_port, sock=sock)

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        """Stop the intake, then the workers; each step bounded, so that a stop always ends
        (a step that overruns is logged by name and left behind)."""
        if self._intake_enabled:
            await _bounded("the MLLP server", self.server.close(), _STOP_S + 5)
        if self._auditing:
            await _bounded(
                "the audit of refused peers",
                _settled(self._auditing),
                _STOP_S,
            )
        if self._held is not None:
            self._held.close()
        if self._no_wait_engine is not None:
            self._no_wait_engine.dispose()
        await _bounded("the inbox worker", self.worker.stop(), _STOP_S)
        await _bounded("the re-lookup loop", self.relookup_loop.stop(), _STOP_S)
        await _bounded("the outbound sender", self.sender.stop(), _STOP_S)
        if self.purge_loop is not None:
            await _bounded("the purge", self.purge_loop.stop(), _STOP_S)

    def _audit_refusal(self, address: str, reason: str) -> None:
        """A refused MLLP peer in the audit trail, recorded beside the connection's close."""
        auditor = self._gateway.audit
        if auditor is None:
            return
        task = asyncio.get_running_loop().create_task(
            auditor.refused(
                Caller(Entry.HL7, "", address),
                f"MLLP connection refused: {reason}",
                interaction=None,
                target="MLLP connection",
            )
        )
        self._auditing.add(task)  # the loop keeps weak references only
        task.add_done_callback(self._auditing.discard)

    async def _store(self, message: InboundMessage) -> StoreOutcome:
        return await self._commits.submit(message)

    def _connect(self, destination: str) -> Delivery:
        timeout_s = self._gateway.settings.hl7_outbound_timeout_s
        if is_fhir_destination(destination):
            client = httpx.AsyncClient(timeout=timeout_s, trust_env=False)
            return FhirDelivery(destination, client=client)
        host, port = mllp_address(destination)  # checked with the settings
        return MllpClient(
            host,
            port,
            timeout_s=timeout_s,
            max_message_bytes=self._gateway.settings.mllp_max_message_bytes,
        )

    async def _run_lookup(self, query: RightsQuery, caller: Caller) -> tuple[str, LookupReport]:
        stored = await self._gateway.service.run(query, caller)
        return stored.lookup_id, stored.report

    async def _query(self, query: RightsQuery, caller: Caller) -> LookupReport:
        return (await self._gateway.service.run(query, caller)).report

    def _message_counts(self) -> dict[tuple[str, ...], float]:
        counters = self.intake.counters
        return {
            ("AA",): counters.accepted,
            ("AE",): counters.errors,
            ("AR",): counters.rejected,
            ("duplicate",): counters.duplicates,
            ("query",): counters.queries,
        }

    def _outbound_counts(self) -> dict[tuple[str, ...], float]:
        sender = self.sender
        return {
            ("delivered",): sender.delivered,
            ("failed",): sender.failures,
            ("dead",): sender.dead,
        }

    def _render_metrics(self) -> Iterable[str]:
        if self._intake_enabled:
            yield "# HELP cdr_hl7_connections Open MLLP connections"
            yield "# TYPE cdr_hl7_connections gauge"
            yield f"cdr_hl7_connections {self.server.connections}"
            yield "# HELP cdr_hl7_pending_bytes Received MLLP bytes held, not handled yet"
            yield "# TYPE cdr_hl7_pending_bytes gauge"
            yield f"cdr_hl7_pending_bytes {self.server.pending_bytes}"
            yield "# HELP cdr_hl7_paused_connections MLLP connections not read now (flow control)"
            yield "# TYPE cdr_hl7_paused_connections gauge"
            yield f"cdr_hl7_paused_connections {self.server.paused_connections}"
        # Depths are read at scrape time from the database (cheap indexed counts).
        yield "# HELP cdr_hl7_inbox_depth Accepted messages whose lookup is not done yet"
        yield "# TYPE cdr_hl7_inbox_depth gauge"
        yield f"cdr_hl7_inbox_depth {self.inbox.depth()}"
        yield "# HELP cdr_hl7_outbox_items Outbound messages by status"
        yield "# TYPE cdr_hl7_outbox_items gauge"
        for status, count in sorted(self.outbox.depth().items()):
            yield f'cdr_hl7_outbox_items{{status="{status}"}} {count}'

    def _render_relookup_metrics(self) -> Iterable[str]:
        yield "# HELP cdr_hl7_relookups_pending Admissions waiting to be looked up again"
        yield "# TYPE cdr_hl7_relookups_pending gauge"
        yield f"cdr_hl7_relookups_pending {self.relookups.depth().get('pending', 0)}"
        if not self._processing_enabled:
            return  # the re-lookups run in the processing process
        yield "# HELP cdr_hl7_relookups_total Re-lookup tries, by outcome"
        yield "# TYPE cdr_hl7_relookups_total counter"
        outcomes = self.relookup_loop.outcomes
        for outcome in ("retry", "final", "expired", "superseded"):
            yield f'cdr_hl7_relookups_total{{outcome="{outcome}"}} {outcomes[outcome]}'


def _mllp_tls(settings: Settings) -> MllpTls | None:
    """MLLP over TLS when the settings give the listener a certificate."""
    if settings.mllp_tls_cert_file is None:
        return None
    try:
        context = server_context(
            settings.mllp_tls_cert_file,
            settings.mllp_tls_key_file,
            settings.mllp_tls_client_ca_file,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"CDR_MLLP_TLS_CERT_FILE / CDR_MLLP_TLS_KEY_FILE / CDR_MLLP_TLS_CLIENT_CA_FILE: "
            f"cannot load the MLLP listener's TLS files: {exc}"
        ) from exc
    return MllpTls(context)
