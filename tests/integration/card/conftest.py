"""The real PC/SC stack for the card tests: ``pcscd`` started here as a child process with
vsmartcard's ``vpcd`` reader on a free port, and the emulated card as a real process
(``cdr card emulate``) plugged into it.

pcscd listens on the system's socket (/run/pcscd/pcscd.comm: pcsc-lite 1.9 takes no other
for the daemon), so it needs root and no other pcscd running. When it cannot run, the tests
are skipped with the reason, or fail with it under ``CDR_REQUIRE_PCSCD=1`` (``make test``):
a skipped card test must never pass for a tested one there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from card.errors import CardError
from card.pki import init_pki

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
DEMO_PIN = "1234"


def _unavailable(reason: str) -> None:
    message = f"the real pcscd cannot run here: {reason}"
    if os.environ.get("CDR_REQUIRE_PCSCD") == "1":
        pytest.fail(f"{message} (CDR_REQUIRE_PCSCD=1: card tests must run)", pytrace=False)
    pytest.skip(message)


def _why_not() -> str | None:
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install '.[card]', needs libpcsclite-dev)"
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (apt-get install pcscd)"
    if not VPCD_DRIVER.exists():
        return "the virtual reader is not installed (apt-get install vsmartcard-vpcd)"
    if os.geteuid() != 0:
        return "pcscd must run as root to own its socket"
    if PCSCD_SOCKET.exists():
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(PCSCD_SOCKET))
                return "another pcscd is already running (stop it to run the card tests)"
            except OSError:
                pass  # a stale socket from a daemon that died; pcscd replaces it
    return None


def _free_port_pair() -> int:
    """A port P with P+1 free too: vpcd opens one per slot."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no two consecutive free ports")


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.05)


@dataclass
class Pcscd:
    port: int
    config: Path
    process: subprocess.Popen[bytes]


def start_pcscd(config: Path, port: int | None) -> subprocess.Popen[bytes]:
    """pcscd with ``config`` as its reader.conf.d: vpcd on ``port``, or no reader at all."""
    config.mkdir(parents=True, exist_ok=True)
    for old in config.iterdir():
        old.unlink()
    if port is not None:
        (config / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:{port:#x}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    {port:#x}\n"
        )
    process = subprocess.Popen(
        ["pcscd", "--foreground", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from card.pcsc import PcscReader

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"pcscd exited with {process.returncode}")
        try:
            return bool(PcscReader().list_readers()) or port is None
        except CardError:
            return False

    wait_until(ready, 10, "pcscd listing its readers")
    return process


def stop_pcscd(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    wait_until(lambda: not PCSCD_SOCKET.exists(), 5, "pcscd removing its socket")


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    reason = _why_not()
    if reason is not None:
        _unavailable(reason)
    config = tmp_path_factory.mktemp("reader.conf.d")
    port = _free_port_pair()
    daemon = Pcscd(port, config, start_pcscd(config, port))
    yield daemon
    stop_pcscd(daemon.process)  # a test may have restarted it


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, structure_finess="750100018", structure_name="Test structure")
    return directory


@dataclass
class EmulatedCardProcess:
    process: subprocess.Popen[str]

    def remove(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def insert(self) -> None:
        self.process.send_signal(signal.SIGUSR2)

    def stop(self) -> str:
        """Stops the card (SIGTERM, as Ctrl-C would) and returns what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output


@pytest.fixture
def emulated_card(pcscd: Pcscd, pki_dir: Path) -> Iterator[Callable[..., EmulatedCardProcess]]:
    """Starts ``cdr card emulate --profile NAME`` (its card from ``pki``, default the session's
    test PKI) and waits for its card in the reader."""
    started: list[EmulatedCardProcess] = []

    def start(profile: str, pki: Path | None = None) -> EmulatedCardProcess:
        command = [sys.executable, "-m", "cdr.cli", "card", "emulate", "--profile", profile]
        command += ["--pki", str(pki or pki_dir), "--port", str(pcscd.port), "--pin", DEMO_PIN]
        card = EmulatedCardProcess(
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
        started.append(card)
        from card.pcsc import PcscReader

        try:
            PcscReader().wait_for_insertion(20)
        except CardError as exc:
            raise AssertionError(f"the emulated card never came: {card.stop()}") from exc
        return card

    yield start
    for card in started:
        card.stop()
    from card.pcsc import PcscReader

    with contextlib.suppress(CardError):
        wait_until(lambda: _no_card(PcscReader()), 10, "the emulated card leaving the reader")


def _no_card(reader: object) -> bool:
    from card.pcsc import PcscReader

    assert isinstance(reader, PcscReader)
    try:
        reader.wait_for_insertion(0)
    except CardError:
        return True
    return False
