"""The regime side of the composition root: each regime's endpoint (URL, TLS, identity), its
port on our HTTP transport with the structure's assertions, its wire-family gateway, and the
resilience policy of the lookups (``cdr.bootstrap`` wires the rest)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx

from cdr.regime_options import RegimeEndpointOptions
from cdr.settings import Settings
from regimes.cnam import CnamGateway
from regimes.endpoints import RegimeEndpoint, client_tls_context, identity_of
from regimes.httpx_port import HttpxPort
from regimes.msa import MsaGateway
from regimes.port import AssertionSigner, NoAssertion, RegimePort, SigningPort
from regimes.registry import GatewayRegistry
from regimes.slm import SlmGateway
from regimes.special import SpecialGateway
from regimes.transport import FastPort, FastTransport
from rights.catalogue import RegimeCatalogue
from rights.ports import RegimeGateway
from rights.resilience import ResiliencePolicy

__all__ = ["build_regime_gateways", "build_regime_port", "policy_from", "regime_endpoints"]


_GATEWAYS: dict[str, Callable[[RegimePort], RegimeGateway]] = {
    "cnam": CnamGateway,
    "msa": MsaGateway,
    "slm": SlmGateway,
    "special": SpecialGateway,
}


def policy_from(settings: Settings) -> ResiliencePolicy:
    return ResiliencePolicy(
        timeout_s=settings.regime_timeout_s,
        max_attempts=settings.regime_max_attempts,
        backoff_s=settings.regime_backoff_s,
        breaker_failures=settings.breaker_failures,
        breaker_reset_s=settings.breaker_reset_s,
        cache_ttl_s=settings.cache_ttl_s,
        cache_size=settings.cache_size,
    )


def build_regime_port(settings: Settings, endpoint: RegimeEndpoint) -> RegimePort:
    """The port to one regime service, on our lean HTTP/1.1 transport (decision 0004).

    The lookup use case owns the time budget; the transport's own timeout is only a backstop.
    """
    timeout = httpx.Timeout(settings.regime_timeout_s + 1)
    if settings.regimes_proxy_url is not None:
        # Through the hospital's proxy: httpx speaks the proxy protocol (CONNECT for https, the
        # endpoint's TLS context, client certificate included, end to end through the tunnel).
        client = httpx.AsyncClient(
            proxy=settings.regimes_proxy_url,
            verify=endpoint.ssl_context if endpoint.ssl_context is not None else True,
            timeout=timeout,
            trust_env=False,
            limits=httpx.Limits(max_connections=settings.http_pool_size),
        )
        return HttpxPort(client, endpoint)
    transport = FastTransport(max_connections=settings.http_pool_size)
    return FastPort(transport, endpoint, timeout)


def regime_endpoints(settings: Settings, catalogue: RegimeCatalogue) -> dict[str, RegimeEndpoint]:
    """Each regime's endpoint: ``CDR_REGIME_ENDPOINTS`` for that regime, else the defaults for
    all (``CDR_REGIMES_URL`` or the embedded sandbox, ``CDR_REGIMES_CA_FILE``,
    ``CDR_REGIMES_CLIENT_CERT_FILE`` and ``_KEY_FILE``). A regime that names its own client
    certificate presents it with its own key, never with the default one."""
    contexts: dict[tuple[Path | None, Path | None, Path | None], ssl.SSLContext] = {}
    endpoints: dict[str, RegimeEndpoint] = {}
    for regime in catalogue:
        options = settings.regime_endpoints.get(regime.code, RegimeEndpointOptions())
        cert: Path | None
        key: Path | None
        if options.client_cert_file is not None:
            cert, key = options.client_cert_file, options.client_key_file
        else:
            cert, key = settings.regimes_client_cert_file, settings.regimes_client_key_file
        files = (options.ca_file or settings.regimes_ca_file, cert, key)
        # Building a TLS context costs milliseconds: one per distinct set of files.
        context = contexts.get(files)
        if context is None:
            context = contexts[files] = client_tls_context(*files)
        endpoints[regime.code] = RegimeEndpoint(
            options.url or settings.effective_regimes_url,
            identity=identity_of(cert),
            ssl_context=context,
        )
    return endpoints


def build_regime_gateways(
    settings: Settings, catalogue: RegimeCatalogue, signer: AssertionSigner | None = None
) -> tuple[GatewayRegistry, list[RegimePort]]:
    """A gateway per regime of ``catalogue`` and the ports to close after use. Every call of
    every gateway, health probes included, goes through ``signer``: where the signed assertion
    of DESIGN §7 is added (``cdr.regime_trust``; ``NoAssertion`` without signing material)."""
    signer = NoAssertion() if signer is None else signer
    registry = GatewayRegistry()
    ports: list[RegimePort] = []
    for code, endpoint in regime_endpoints(settings, catalogue).items():
        # One port per regime service: each regime is its own host with its own client
        # certificate and its own connection pool.
        port = SigningPort(build_regime_port(settings, endpoint), signer)
        ports.append(port)
        registry.add(code, _GATEWAYS[catalogue.get(code).family](port))
    return registry, ports
