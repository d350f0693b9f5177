"""Our FHIR vocabulary beyond ``fhir_common``: the code systems, extensions and profile this
mapping direction publishes, with the code tables both the mapping and the published CodeSystem
resources read, so that an emitted code always exists in its CodeSystem.

External systems (HL7 terminology) are named here once as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from mapping.fhir.common import (
    CANONICAL,
    CLASS_CAISSE,
    CLASS_CDR_REGIME,
    CLASS_CENTRE,
    CLASS_CODE_GESTION,
    CLASS_REGIME,
)
from rights.model import Qualite

__all__ = [
    "BENEFIT_CATEGORY_HEALTH",
    "CLASS_COMPLEMENTARY",
    "CLASS_SITUATION",
    "CLASS_TYPES",
    "COVERAGE_TYPES",
    "CS_BENEFIT_CATEGORY",
    "CS_COVERAGE_TYPE",
    "CS_ETM",
    "CS_FR_CORE_V2_0203",
    "CS_MTM",
    "CS_NATURE_PJ",
    "CS_ORGANIZATION_TYPE",
    "CS_SNCF_CONTRACT",
    "CS_SUBSCRIBER_RELATIONSHIP",
    "CS_V2_0203",
    "CS_V3_ACT_CODE",
    "CS_V3_ROLE_CODE",
    "ERRORS",
    "ERROR_REGIME_REJECTED",
    "ERROR_REGIME_TIMEOUT",
    "ERROR_REGIME_UNAVAILABLE",
    "ERROR_REQUESTER_REFUSED",
    "ERROR_UNKNOWN_PERSON",
    "ETM_CODES",
    "EXT_DEFAULT_AT_ORGANISATION",
    "EXT_ERROR_REGIME",
    "EXT_EXONERATION",
    "EXT_MEDECIN_TRAITANT_PERIOD",
    "EXT_MODULATION",
    "EXT_NATURE_PJ",
    "EXT_REGIME_STATUS",
    "EXT_SNCF_CONTRACT",
    "EXT_WARNING",
    "MTM_CODES",
    "NATURE_PJ_CODES",
    "PROFILE_COVERAGE",
    "QUALITE_CODES",
    "SNCF_CONTRACT_CODES",
    "SYSTEM_ID_NAT_PS",
    "SYSTEM_RPPS",
]

# HL7 terminology.
CS_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# FR Core's identifier types (INS-NIA, INS-NIR-TEST, INS-NIR-DEMO…), FRCoreCodeSystemv2-0203.
CS_FR_CORE_V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
CS_V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CS_V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CS_SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
CS_ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
CS_BENEFIT_CATEGORY = "http://terminology.hl7.org/CodeSystem/ex-benefitcategory"
BENEFIT_CATEGORY_HEALTH = ("30", "Health Benefit Plan Coverage")
# FR Core Practitioner "rpps" slice: an 11-digit RPPS number given instead of the AM number.
SYSTEM_RPPS = "https://rpps.esante.gouv.fr"
# idNatPs: a professional's national identifier, its type prefix kept (8 RPPS, 0 ADELI, 3 CPE).
SYSTEM_ID_NAT_PS = "urn:oid:1.2.250.1.71.4.2.1"

# Our code systems (fhir_common holds the ones the other mapping direction reads too).
CS_COVERAGE_TYPE = f"{CANONICAL}/CodeSystem/cdr-coverage-type"
CS_ETM = f"{CANONICAL}/CodeSystem/cdr-etm"
CS_MTM = f"{CANONICAL}/CodeSystem/cdr-mtm"
CS_NATURE_PJ = f"{CANONICAL}/CodeSystem/cdr-nature-pj"
CS_SNCF_CONTRACT = f"{CANONICAL}/CodeSystem/cdr-sncf-contract"

# Our profile and extensions.
_SD = f"{CANONICAL}/StructureDefinition"
PROFILE_COVERAGE = f"{_SD}/cdr-coverage"
EXT_EXONERATION = f"{_SD}/cdr-exoneration"
EXT_MODULATION = f"{_SD}/cdr-modulation"
EXT_NATURE_PJ = f"{_SD}/cdr-nature-pj"
EXT_SNCF_CONTRACT = f"{_SD}/cdr-sncf-contract"
EXT_DEFAULT_AT_ORGANISATION = f"{_SD}/cdr-default-at-organisation"
EXT_MEDECIN_TRAITANT_PERIOD = f"{_SD}/cdr-medecin-traitant-period"
EXT_REGIME_STATUS = f"{_SD}/cdr-regime-status"
EXT_ERROR_REGIME = f"{_SD}/cdr-error-regime"
EXT_WARNING = f"{_SD}/cdr-warning"


def _table(*pairs: tuple[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(pairs))


# cdr-coverage-class: where Coverage.class carries the managing organisation and the situation.
CLASS_SITUATION = "situation"
CLASS_COMPLEMENTARY = "complementary-organism"
CLASS_TYPES = _table(
    (CLASS_REGIME, "Grand régime (2 digits)"),
    (CLASS_CAISSE, "Caisse (3 digits)"),
    (CLASS_CENTRE, "Centre de gestion (4 digits)"),
    (CLASS_CODE_GESTION, "Code gestion"),
    (CLASS_CDR_REGIME, "CDR regime (catalogue code)"),
    (CLASS_SITUATION, "Situation particulière (CDRi 03.10: C2S 1/2/3, AME 10)"),
    (CLASS_COMPLEMENTARY, "Complementary organism id (99999997, 88888888, 75500017)"),
)

# cdr-coverage-type: a second coding for AMO and AT/MP, the only one for C2S and AME (no
# v3-ActCode concept means a state-funded complementary cover of the French kind).
COVERAGE_TYPES = _table(
    ("amo", "Assurance maladie obligatoire (base rights)"),
    ("c2s", "Complémentaire santé solidaire"),
    ("ame", "Aide médicale de l'État"),
    ("atmp", "Accident du travail / maladie professionnelle"),
)

QUALITE_CODES = _table(*((q.value, q.label) for q in Qualite))

# cdr-eligibility-error: what goes in CoverageEligibilityResponse.error.
ERROR_REGIME_UNAVAILABLE = "regime-unavailable"
ERROR_REGIME_TIMEOUT = "regime-timeout"
ERROR_REGIME_REJECTED = "regime-rejected"
ERROR_UNKNOWN_PERSON = "unknown-person"
ERROR_REQUESTER_REFUSED = "requester-refused"
ERRORS = _table(
    (ERROR_REGIME_UNAVAILABLE, "Regime unavailable"),
    (ERROR_REGIME_TIMEOUT, "Regime timeout"),
    (ERROR_REGIME_REJECTED, "Regime rejected the request"),
    (ERROR_UNKNOWN_PERSON, "Unknown person"),
    (ERROR_REQUESTER_REFUSED, "Regime refused the requester"),
)

# CDRi 03.05, SESAM-Vitale SFG FIDES-BS RG_BS684. Regimes may send codes beyond these:
# the CodeSystem is published as a fragment and such codes pass through without a display.
ETM_CODES = _table(
    ("1", "pension militaire"),
    ("6", "maternité"),
    ("8", "affection de longue durée (ALD), code 8"),
    ("9", "affection de longue durée (ALD), code 9"),
    ("13", "affection de longue durée (ALD), code 13"),
    ("14", "invalidité"),
    ("16", "affection de longue durée (ALD), code 16"),
    ("17", "soins particuliers exonérés, code 17"),
    ("18", "soins particuliers exonérés, code 18"),
)

# CDRi 03.07, SESAM-Vitale SFG FIDES-BS.
MTM_CODES = _table(
    ("6", "rente accident du travail"),
    ("7", "régime local frontalier"),
    ("8", "ASPA"),
    ("9", "régime local Alsace-Moselle"),
)

# SESAM-Vitale SFG FIDES-BS RG_BS622; CDRi may return other values, passed through.
NATURE_PJ_CODES = _table(
    ("0", "aucune pièce justificative"),
    ("1", "attestation (AME, C2S…)"),
    ("2", "CDR / attestation d'ouverture des droits"),
    ("3", "prise en charge clinique"),
    ("4", "carte Vitale"),
    ("5", "CDRi en clinique privée"),
)

# CPRP SNCF contrat particulier: one of 18-21 plus any of 22-25 (CDRi 03.05).
SNCF_CONTRACT_CODES = _table(
    ("18", "Caisse de Prévoyance"),
    ("19", "divers"),
    ("20", "subsistants"),
    ("21", "CMAL"),
    ("22", "actifs"),
    ("23", "non-actifs"),
    ("24", "hors zone médicale"),
    ("25", "pupille"),
)
