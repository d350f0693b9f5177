"""``cdr card emulate --profile NAME`` and ``cdr card status [--json]`` (issue 13, items 1-2).

``emulate`` runs an emulated CPx card in the foreground, in vsmartcard's virtual reader, with
the certificates and keys of a test PKI (made in the data directory when none is given).
SIGUSR1 takes the card out of the reader, SIGUSR2 puts it back (Enter toggles it too when the
command runs in a terminal); SIGINT/SIGTERM stop it. ``status`` reads the card in the reader
through pcscd as a person at the desk would want it summed up.
"""

from __future__ import annotations

import asyncio
import datetime
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from card.emulator import emulated_card_from_pki
from card.errors import CardError
from card.pcsc import PcscReader
from card.pki import PROFILES
from card.reader import CardReader, CardReport, describe_card
from card.vpcd import VirtualCardLink
from cdr.demo_security import DEMO_PIN, demo_pki_directory, ensure_pki
from cdr.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json
from cdr.settings import Settings

__all__ = ["DEMO_PIN", "card_agent", "card_emulate", "card_status", "render_report"]


def _pki_directory(settings: Settings, given: Path | None) -> Path | None:
    if given is not None:
        if not (given / "manifest.json").is_file():
            print(
                f"cdr: error: --pki: {given} holds no test PKI (make one: cdr pki init DIR)",
                file=sys.stderr,
            )
            return None
        return given
    directory = demo_pki_directory(settings)
    if not (directory / "manifest.json").is_file():
        ensure_pki(settings, directory)
        print(f"test PKI written to {directory}")
    return directory


def card_emulate(
    settings: Settings, *, profile: str, pki: Path | None, pin: str, host: str, port: int
) -> int:
    directory = _pki_directory(settings, pki)
    if directory is None:
        return EXIT_INPUT
    try:
        card = emulated_card_from_pki(directory, profile, pin=pin)
    except ValueError as exc:
        print(f"cdr: error: --pin: {exc}", file=sys.stderr)
        return EXIT_INPUT
    link = VirtualCardLink(card, host, port)
    holder = PROFILES[profile]
    print(
        f"emulated {holder.card} card of {holder.given} {holder.surname} ({holder.title}, "
        f"{holder.national_id}) in the virtual reader at {host}:{port}",
        flush=True,
    )
    print(f"PIN: {pin} (demo card: 3 wrong PINs block it until the emulator restarts)")
    print("SIGUSR1 removes the card, SIGUSR2 inserts it; Ctrl-C stops", flush=True)

    def on_signal(number: int, _frame: FrameType | None) -> None:
        if number == signal.SIGUSR1:
            link.remove()
            print("card removed", flush=True)
        elif number == signal.SIGUSR2:
            link.insert()
            print("card inserted", flush=True)
        else:
            link.stop()

    for number in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(number, on_signal)
    worker = threading.Thread(target=link.run, name="vpcd-card", daemon=True)
    worker.start()
    interactive = sys.stdin.isatty()
    if interactive:
        print("Enter takes the card out or puts it back", flush=True)
    in_reader, waiting_since = False, time.monotonic()
    while worker.is_alive():
        if interactive and select.select([sys.stdin], [], [], 0.2)[0]:
            sys.stdin.readline()
            on_signal(signal.SIGUSR1 if link.inserted else signal.SIGUSR2, None)
        else:
            worker.join(0.2)
        if link.connected.is_set() != in_reader:
            in_reader = not in_reader
            print("card in the reader" if in_reader else "card out of the reader", flush=True)
            waiting_since = time.monotonic()
        elif not in_reader and link.inserted and time.monotonic() - waiting_since > 3:
            print(
                f"waiting for the virtual reader at {host}:{port}: is pcscd running "
                "(with vsmartcard-vpcd installed)?",
                flush=True,
            )
            waiting_since = float("inf")  # said once
    return EXIT_OK


def _validity(report: CardReport) -> str:
    holder = report.holder
    until = holder.not_after.date().isoformat()
    if report.certificate_valid:
        return f"valid until {until} (issuer {holder.issuer})"
    if datetime.datetime.now(datetime.UTC) < holder.not_before:
        return f"NOT YET VALID (from {holder.not_before.date().isoformat()})"
    return f"EXPIRED on {until}: the card must be renewed"


def render_report(report: CardReport) -> list[str]:
    holder = report.holder
    profession = holder.profession or "(none on the card)"
    if holder.profession_code is not None:
        profession += f" (TRE_G15 {holder.profession_code})"
    if holder.identifier_kind == "structure":
        identifier = f"{holder.identifier} (staff of a structure)"
    else:
        identifier = f"{holder.identifier_kind} {holder.identifier}"
    tries = report.pin_tries_left
    pin = "BLOCKED (3 wrong PINs): unblock it with the card's PUK"
    if tries is None:
        pin = "verified"
    elif tries > 0:
        pin = f"{tries} {'try' if tries == 1 else 'tries'} left"
    lines = [
        f"reader       {report.reader}",
        f"card         {holder.card_type} — {report.family.value}",
        f"holder       {holder.given} {holder.surname}",
        f"profession   {profession}",
        f"identifier   {identifier}",
    ]
    if holder.structure_finess is not None:
        lines.append(f"structure    FINESS {holder.structure_finess}")
    lines += [f"certificate  {_validity(report)}", f"PIN          {pin}"]
    return lines


def card_status(as_json: bool, reader: CardReader | None = None) -> int:
    try:
        report = describe_card(reader or PcscReader(), datetime.datetime.now(datetime.UTC))
    except CardError as exc:
        if as_json:
            print_json(
                {"card": None, "error": {"type": type(exc).__name__, "message": exc.message}}
            )
        print(f"cdr: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print_json(report.as_dict())
    else:
        print("\n".join(render_report(report)))
    return EXIT_OK


def card_agent(settings: Settings, reader: CardReader | None = None) -> int:
    """Serve the desk's card agent on loopback for the portal's origin until Ctrl-C."""
    import uvicorn

    from card.agent import CardAgent, create_agent_app

    port, origin = settings.card_agent_port, settings.effective_card_agent_origin
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))  # loopback only, whatever CDR_HOST says
    except OSError as exc:
        sock.close()
        print(
            f"cdr: error: the card agent cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
            "choose another --port / CDR_CARD_AGENT_PORT",
            file=sys.stderr,
        )
        return EXIT_FAILED
    agent = CardAgent(reader or PcscReader(), lambda: datetime.datetime.now(datetime.UTC))
    app = create_agent_app(agent, origin=origin, port=port)
    print(
        f"card agent on http://127.0.0.1:{port} for the portal at {origin} (Ctrl-C stops)",
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", log_config=None, ws="none")
    try:
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        agent.logout()  # the card reset: its PIN no longer verified
        sock.close()
    return EXIT_OK
