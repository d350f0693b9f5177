"""Puts an emulated card into vsmartcard's virtual reader (``vpcd``, a pcscd driver).

vpcd listens on TCP (35963 for its first slot) and the card connects to it. Every message is
a 2-byte big-endian length and a payload; a 1-byte payload is a control message (00 power off,
01 power on, 02 reset, 04 "send your ATR", the only one answered), anything longer is a command
APDU answered with the response APDU (reference/recipes.md, vsmartcard's vpcd.h). The card is
in the reader while the connection is open: closing it is a removal, reconnecting an insertion.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time

from card.emulator import EmulatedCpx

__all__ = ["DEFAULT_VPCD_PORT", "VirtualCardLink"]

DEFAULT_VPCD_PORT = 35963
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4
_POLL_S = 0.1


class VirtualCardLink:
    """Runs ``card`` in the vpcd reader at ``host:port`` until ``stop()``; ``remove()`` and
    ``insert()`` (thread- and signal-safe: they only set flags) take it out and put it back."""

    def __init__(self, card: EmulatedCpx, host: str = "127.0.0.1", port: int = DEFAULT_VPCD_PORT):
        self.card = card
        self.host, self.port = host, port
        self._want_inserted = threading.Event()
        self._want_inserted.set()
        self._stop = threading.Event()
        self.connected = threading.Event()

    def remove(self) -> None:
        self._want_inserted.clear()

    def insert(self) -> None:
        self._want_inserted.set()

    @property
    def inserted(self) -> bool:
        return self._want_inserted.is_set()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Connect, serve, reconnect when the reader goes away; returns once stopped."""
        while not self._stop.is_set():
            if not self._want_inserted.is_set():
                time.sleep(_POLL_S)
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=0.5)
            except OSError:
                time.sleep(_POLL_S)  # pcscd (and so vpcd) not up yet: try again
                continue
            self.connected.set()
            try:
                self._serve(sock)
            finally:
                self.connected.clear()
                sock.close()
                self.card.power_on()  # whatever was verified is lost with the power

    def _serve(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        buffer = b""
        while not self._stop.is_set() and self._want_inserted.is_set():
            readable, _, _ = select.select([sock], [], [], _POLL_S)
            if not readable:
                continue
            try:
                chunk = sock.recv(4096)
            except OSError:
                return
            if not chunk:
                return  # the reader went away (pcscd stopped)
            buffer += chunk
            while len(buffer) >= 2:
                (length,) = struct.unpack("!H", buffer[:2])
                if len(buffer) < 2 + length:
                    break
                message, buffer = buffer[2 : 2 + length], buffer[2 + length :]
                reply = self._answer(message)
                if reply is not None:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)

    def _answer(self, message: bytes) -> bytes | None:
        if len(message) == 1:
            if message[0] == _GET_ATR:
                return self.card.atr
            if message[0] in (_POWER_ON, _RESET, _POWER_OFF):
                self.card.power_on()
            return None
        return self.card.handle(message)
