"""Authentication of the FHIR API: SMART App Launch v2 Backend Services.

A client registered with its public keys (``RegisteredClient``) asks the token endpoint for an
access token with a signed assertion (``ClientAssertions``, ``TokenEndpoint``); the gateway
signs the token (``TokenSigner``); every FHIR request but the public ones shows it and is
checked against the scopes it needs (``BearerGuard``, ``TokenVerifier``). A client may instead
be known by its TLS client certificate (``CertificateClients``): a request without a token on a
connection made with it gets the client's registered scopes. The endpoints and the guard are
middleware for ``create_app``, wired by the composition root when ``CDR_AUTH=on``.
"""

from fhir_server.auth.access_tokens import (
    AccessGrant,
    ExternalIssuer,
    SigningKey,
    TokenSigner,
    TokenVerifier,
)
from fhir_server.auth.certificates import (
    CertificateClients,
    certificate_thumbprint,
    client_certificate,
)
from fhir_server.auth.client_assertion import ASSERTION_TYPE, ClientAssertions
from fhir_server.auth.endpoints import AuthEndpoints
from fhir_server.auth.guard import BearerGuard
from fhir_server.auth.key_sets import KeySets, parse_key_set
from fhir_server.auth.loopback_only import LoopbackOnly
from fhir_server.auth.ports import AssertionIds, ClientRegistry, RegisteredClient
from fhir_server.auth.smart_configuration import capability_security, smart_configuration
from fhir_server.auth.token_endpoint import TokenEndpoint

__all__ = [
    "ASSERTION_TYPE",
    "AccessGrant",
    "AssertionIds",
    "AuthEndpoints",
    "BearerGuard",
    "CertificateClients",
    "ClientAssertions",
    "ClientRegistry",
    "ExternalIssuer",
    "KeySets",
    "LoopbackOnly",
    "RegisteredClient",
    "SigningKey",
    "TokenEndpoint",
    "TokenSigner",
    "TokenVerifier",
    "capability_security",
    "certificate_thumbprint",
    "client_certificate",
    "parse_key_set",
    "smart_configuration",
]
