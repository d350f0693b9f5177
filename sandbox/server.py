"""Running an ASGI app under uvicorn: in a background thread (embedded sandbox, tests) or in the
foreground (``cdr sandbox serve``), over plain HTTP or TLS (``SandboxTls``: a server certificate
and, optionally, client certificates required, as the real regime services do, DESIGN §7).

Port 0 asks the system for a free port; the bound port is read back from the listening socket,
so parallel test runs never collide.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from rights.errors import ConfigError
from sandbox.tls_peer import TlsPeerHttpProtocol

__all__ = ["RunningServer", "SandboxTls", "serve", "start_in_thread"]

_GRACE_S = 2


@dataclass(frozen=True)
class SandboxTls:
    """TLS for the sandbox: its certificate (PEM) and key (default: in the certificate's
    file); with ``client_ca_file``, every client must present a certificate that CA signed."""

    cert_file: Path
    key_file: Path | None = None
    client_ca_file: Path | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        """The keyword arguments of ``uvicorn.Config`` that serve TLS so."""
        options: dict[str, Any] = {
            "ssl_certfile": str(self.cert_file),
            "ssl_keyfile": None if self.key_file is None else str(self.key_file),
        }
        if self.client_ca_file is not None:
            options["ssl_ca_certs"] = str(self.client_ca_file)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return options


def _config(app: ASGIApp, host: str, port: int, tls: SandboxTls | None) -> uvicorn.Config:
    # log_config=None leaves logging to the embedding program; no websockets are served, and
    # not loading them keeps their import-time deprecation warnings out of strict test runs.
    # Injected timeouts hold requests for up to hang_s: shutdown must not wait for them.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="auto",
        # The stdlib loop in threads: with uvloop, a transport of a finished exchange can still
        # be open when the thread's loop closes, which strict test runs report (follow-up noted).
        loop="asyncio",
        timeout_graceful_shutdown=_GRACE_S,
        # Over TLS, the protocol tells the app the client's certificate (sandbox.tls_peer).
        **({} if tls is None else {**tls.uvicorn_options(), "http": TlsPeerHttpProtocol}),
    )


@dataclass
class RunningServer:
    """A uvicorn server running in its own thread with its own event loop."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int
    scheme: str = "http"
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and exit; wait for the thread."""
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    startup_timeout: float = 10.0,
    tls: SandboxTls | None = None,
) -> RunningServer:
    """Start ``app`` on ``host:port`` in a daemon thread; return once it accepts connections.

    ``sock``, already bound, is served instead: a caller that bound it first has already turned
    a busy port into a clear error. ``tls``: served over TLS.
    """
    server = uvicorn.Server(_config(app, host, port, tls))

    def run() -> None:
        # uvicorn exits with SystemExit when it cannot bind; the caller sees the thread end.
        try:
            server.run(sockets=None if sock is None else [sock])
        except SystemExit:
            return

    thread = threading.Thread(target=run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise ConfigError(f"server could not start on {host}:{port} (see the log)")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(startup_timeout)
            raise ConfigError(f"server did not start on {host}:{port} within {startup_timeout}s")
        thread.join(0.005)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "http" if tls is None else "https"
    return RunningServer(server=server, thread=thread, host=host, port=int(bound), scheme=scheme)


async def serve(app: ASGIApp, host: str, port: int, tls: SandboxTls | None = None) -> None:
    """Serve ``app`` in the current event loop until interrupted (SIGINT/SIGTERM)."""
    await uvicorn.Server(_config(app, host, port, tls)).serve()
