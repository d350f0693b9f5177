"""Canonical URLs and identifier systems shared by the FHIR mappings (pure constants)."""

from __future__ import annotations

__all__ = [
    "CANONICAL",
    "CS_CDR_ERROR",
    "CS_CLASS_TYPE",
    "CS_QUALITE",
    "FHIR_VERSION",
    "GATEWAY_ORGANIZATION_ID",
    "SYSTEM_FINESS",
    "SYSTEM_NIA",
    "SYSTEM_NIR",
    "SYSTEM_NIR_DEMO",
    "SYSTEM_NIR_TEST",
]

FHIR_VERSION = "4.0.1"

# Our own definitions (profile, extensions, code systems) live under this canonical base.
# example.org is reserved (RFC 2606): nobody else can publish there, and a deployment that owns a
# domain changes this one constant.
CANONICAL = "https://cdr-gateway.example.org/fhir"
CS_CDR_ERROR = f"{CANONICAL}/CodeSystem/cdr-eligibility-error"
CS_CLASS_TYPE = f"{CANONICAL}/CodeSystem/cdr-coverage-class"
CS_QUALITE = f"{CANONICAL}/CodeSystem/cdr-qualite"

# FR Core identifier systems (reference/fhir.md §2).
SYSTEM_NIR = "urn:oid:1.2.250.1.213.1.4.8"
SYSTEM_NIA = "urn:oid:1.2.250.1.213.1.4.9"
SYSTEM_NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"
SYSTEM_NIR_DEMO = "urn:oid:1.2.250.1.213.1.4.11"
SYSTEM_FINESS = "https://finess.esante.gouv.fr"

# The Organization that stands for the gateway as CER/CERsp.insurer.
GATEWAY_ORGANIZATION_ID = "cdr-gateway"
