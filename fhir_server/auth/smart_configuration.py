"""How a client learns to get a token: the SMART configuration document (SMART App Launch v2
§2.1) and the CapabilityStatement's ``rest.security`` (SMART v2 §2.2, the ``oauth-uris``
extension)."""

from __future__ import annotations

from typing import Any

from fhir_server.auth.client_assertion import ASSERTION_ALGORITHMS
from fhir_server.auth.scopes import SERVED_TYPES

__all__ = ["SCOPES_SUPPORTED", "capability_security", "smart_configuration"]

SCOPES_SUPPORTED = (
    "system/*.rs",
    *(f"system/{resource_type}.rs" for resource_type in SERVED_TYPES),
    "system/CoverageEligibilityRequest.c",
)


def smart_configuration(token_url: str) -> dict[str, Any]:
    # Backend services only: no authorization endpoint, hence no PKCE methods to list.
    return {
        "token_endpoint": token_url,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "capabilities": ["client-confidential-asymmetric"],
    }


def capability_security(token_url: str, *, client_certificates: bool = False) -> dict[str, Any]:
    """``client_certificates``: the API also knows clients by their TLS certificate."""
    description = (
        "Every interaction but metadata needs a bearer token (SMART Backend Services: "
        "client_credentials with a private_key_jwt assertion at the token endpoint). "
        "Scopes: system/<type>.rs for read, vread, history and search; "
        "system/CoverageEligibilityRequest.c for $submit; the v1 forms .read/.write/.* "
        "are accepted."
    )
    if client_certificates:
        description += (
            " Over mutual TLS, a request without a token made with a client certificate "
            "registered for a client is that client's, with its registered scopes."
        )
    return {
        "cors": False,
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": "token", "valueUri": token_url}],
            }
        ],
        "description": description,
    }
