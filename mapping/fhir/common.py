"""Canonical URLs and identifier systems shared by the FHIR mappings (pure constants)."""

from __future__ import annotations

__all__ = [
    "CANONICAL",
    "CLASS_CAISSE",
    "CLASS_CDR_REGIME",
    "CLASS_CENTRE",
    "CLASS_CODE_GESTION",
    "CLASS_REGIME",
    "CS_CDR_ERROR",
    "CS_CLASS_TYPE",
    "CS_QUALITE",
    "EXT_LUNAR_BIRTH_DATE",
    "EXT_RANG",
    "FHIR_VERSION",
    "GATEWAY_ORGANIZATION_ID",
    "SYSTEM_AM_NUMBER",
    "SYSTEM_AT_NUMBER",
    "SYSTEM_FINESS",
    "SYSTEM_NIA",
    "SYSTEM_NIR",
    "SYSTEM_NIR_DEMO",
    "SYSTEM_NIR_TEST",
    "SYSTEM_ORGANISATION_NUMBER",
]

FHIR_VERSION = "4.0.1"

# Our own definitions (profile, extensions, code systems) live under this canonical base.
# example.org is reserved (RFC 2606): nobody else can publish there, and a deployment that owns a
# domain changes this one constant.
CANONICAL = "https://cdr-gateway.example.org/fhir"
CS_CDR_ERROR = f"{CANONICAL}/CodeSystem/cdr-eligibility-error"
CS_CLASS_TYPE = f"{CANONICAL}/CodeSystem/cdr-coverage-class"
CS_QUALITE = f"{CANONICAL}/CodeSystem/cdr-qualite"

# FR Core identifier systems (FR Core 2.x, hl7.fhir.fr.core identifier slices).
SYSTEM_NIR = "urn:oid:1.2.250.1.213.1.4.8"
SYSTEM_NIA = "urn:oid:1.2.250.1.213.1.4.9"
SYSTEM_NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"
SYSTEM_NIR_DEMO = "urn:oid:1.2.250.1.213.1.4.11"
SYSTEM_FINESS = "https://finess.esante.gouv.fr"

# Our identifier systems and the extensions both mapping directions share.
SYSTEM_ORGANISATION_NUMBER = f"{CANONICAL}/NamingSystem/organisation-number"  # régime+caisse+centre
SYSTEM_AM_NUMBER = f"{CANONICAL}/NamingSystem/numero-assurance-maladie"  # médecin traitant
SYSTEM_AT_NUMBER = f"{CANONICAL}/NamingSystem/accident-number"  # AT/MP, 8 digits + key
EXT_RANG = f"{CANONICAL}/StructureDefinition/cdr-rang"  # on Patient: rang de naissance
EXT_LUNAR_BIRTH_DATE = f"{CANONICAL}/StructureDefinition/cdr-lunar-birth-date"  # raw text

# Class-type codes of CS_CLASS_TYPE used to carry the managing organisation in Coverage.class.
CLASS_REGIME = "regime"
CLASS_CAISSE = "caisse"
CLASS_CENTRE = "centre"
CLASS_CODE_GESTION = "code-gestion"
CLASS_CDR_REGIME = "cdr-regime"

# The Organization that stands for the gateway as CER/CERsp.insurer.
GATEWAY_ORGANIZATION_ID = "cdr-gateway"
