"""The emulated card's side of vpcd's framing, against a stand-in for vpcd on port 0 (no pcscd
needed): the ATR on request, APDUs answered, removal closing the connection and insertion
opening a new one."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from card.emulator import CPS3_CONTACT_ATR, emulated_card_from_pki
from card.vpcd import VirtualCardLink


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!H", len(payload)) + payload)


def _receive(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    (length,) = struct.unpack("!H", exactly(2))
    return exactly(length)


@pytest.fixture
def reader_socket() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)
    yield server
    server.close()


def test_the_card_speaks_vpcd_framing(reader_socket: socket.socket, pki_dir: Path) -> None:
    card = emulated_card_from_pki(pki_dir, "medecin", pin="1234")
    link = VirtualCardLink(card, "127.0.0.1", reader_socket.getsockname()[1])
    worker = threading.Thread(target=link.run, daemon=True)
    worker.start()
    try:
        connection, _ = reader_socket.accept()
        with connection:
            connection.settimeout(10)
            _send(connection, b"\x04")
            assert _receive(connection) == CPS3_CONTACT_ATR
            _send(connection, b"\x01")  # power on: no answer
            _send(connection, bytes.fromhex("00A4040C0DE828BD080F8025000001FF0010"))
            assert _receive(connection) == b"\x90\x00"
            # two APDUs in one segment are both answered, in order
            status, pin = bytes.fromhex("00200001"), bytes.fromhex("002000010831323334FFFFFFFF")
            connection.sendall(
                struct.pack("!H", len(status)) + status + struct.pack("!H", len(pin)) + pin
            )
            assert _receive(connection) == b"\x63\xc3"
            assert _receive(connection) == b"\x90\x00"
            link.remove()
            assert connection.recv(16) == b""  # removal closes the connection
        link.insert()
        again, _ = reader_socket.accept()
        with again:
            again.settimeout(10)
            _send(again, bytes.fromhex("00200001"))
            assert _receive(again) == b"\x63\xc3"  # a new power-up: the PIN is asked again
    finally:
        link.stop()
        worker.join(5)
    assert not worker.is_alive()
