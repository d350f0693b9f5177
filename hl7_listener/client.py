"""The MLLP client: one persistent connection to a destination, one message in flight at a time.

``send`` writes one frame and waits for exactly one framed reply. Any failure closes the
connection (after a timeout a late reply could otherwise be read as the answer to the next
message); the next ``send`` connects again. Failures are raised as ``DeliveryFailed`` with a
``reason`` the outbound queue uses to decide on a retry:

- ``refused``: no connection could be made (refused, unreachable, name not resolved);
- ``timeout``: no connection or no reply within ``timeout_s``;
- ``closed``: the destination closed or reset the connection before replying;
- ``oversized``: the reply was larger than ``max_message_bytes`` (the connection stays usable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from types import TracebackType
from typing import Literal, cast

from hl7_listener.framing import Frame, MllpDecoder, Oversized, frame
from rights.errors import CdrError

__all__ = ["DeliveryFailed", "FailureReason", "MllpClient"]

log = logging.getLogger("cdr.hl7")

FailureReason = Literal["refused", "timeout", "closed", "oversized"]


class DeliveryFailed(CdrError):
    """A message could not be delivered or its reply not read; ``reason`` says why."""

    def __init__(self, message: str, *, reason: FailureReason) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason


class _ReplyReader(asyncio.Protocol):
    def __init__(self, max_message_bytes: int) -> None:
        self.decoder = MllpDecoder(max_message_bytes)
        self.replies: deque[Frame | Oversized] = deque()
        self.waiter: asyncio.Future[Frame | Oversized | None] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not isinstance: uvloop's transports do not derive from asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(item)
            else:
                self.replies.append(item)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)


class MllpClient:
    """A persistent MLLP connection to ``host:port``, opened on the first ``send``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 10.0,
        max_message_bytes: int = 1_048_576,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.max_message_bytes = max_message_bytes
        self._reader: _ReplyReader | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.lost

    async def send(self, payload: bytes) -> bytes:
        """Send one message and return the payload of the reply frame."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout_s
            reader = await self._connect(deadline)
            if reader.replies:
                log.warning(
                    "MLLP %s:%d sent %d frames nobody asked for; dropped",
                    self.host,
                    self.port,
                    len(reader.replies),
                )
                reader.replies.clear()
            waiter: asyncio.Future[Frame | Oversized | None] = loop.create_future()
            reader.waiter = waiter
            assert reader.transport is not None
            reader.transport.write(frame(payload))
            try:
                async with asyncio.timeout_at(deadline):
                    reply = await waiter
            except TimeoutError:
                self._drop()
                raise DeliveryFailed(
                    f"no reply from {self.host}:{self.port} within {self.timeout_s:g} s",
                    reason="timeout",
                ) from None
            except BaseException:
                self._drop()  # cancelled: the reply may still come and must not be misread
                raise
            finally:
                reader.waiter = None
            if reply is None:
                self._drop()
                raise DeliveryFailed(
                    f"{self.host}:{self.port} closed the connection before replying",
                    reason="closed",
                )
            if isinstance(reply, Oversized):
                raise DeliveryFailed(
                    f"the reply from {self.host}:{self.port} is over "
                    f"{self.max_message_bytes} bytes",
                    reason="oversized",
                )
            return reply.payload

    async def close(self) -> None:
        reader = self._reader
        self._drop()
        if reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader.closed), self.timeout_s)

    async def __aenter__(self) -> MllpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect(self, deadline: float) -> _ReplyReader:
        if self._reader is not None and not self._reader.lost:
            return self._reader
        self._drop()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _transport, reader = await loop.create_connection(
                    lambda: _ReplyReader(self.max_message_bytes), self.host, self.port
                )
        except TimeoutError:
            raise DeliveryFailed(
                f"cannot connect to {self.host}:{self.port} within {self.timeout_s:g} s",
                reason="timeout",
            ) from None
        except OSError as exc:
            raise DeliveryFailed(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}",
                reason="refused",
            ) from exc
        self._reader = reader
        return reader

    def _drop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and reader.transport is not None and not reader.lost:
            reader.transport.close()
