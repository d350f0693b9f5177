"""The staff portal (issue 15): server-rendered pages in French for admission and billing
staff, served at ``/`` beside the FHIR API. Logging in through Pro Santé Connect or with the
CPx card through the desk's agent (``CardLogin``; a card session's lookups signed by the card:
``CardSignatures``), the terms of use, the regime tiles, the consultation through the gateway's
lookup service, the result and its PDF attestation."""

from fhir_server.portal.app import SESSION_COOKIE, PortalMount, create_portal
from fhir_server.portal.attended import CardSignatures
from fhir_server.portal.config import PortalConfig, PscConfig, SupportContact
from fhir_server.portal.context import PortalContext
from fhir_server.portal.login import PSC_CALLBACK_PATH, CardLogin
from fhir_server.portal.ports import (
    RecentLookup,
    RecentLookups,
    RunLookup,
    StoredReports,
    TermsAcceptances,
)
from fhir_server.portal.terms import Terms, load_terms

__all__ = [
    "PSC_CALLBACK_PATH",
    "SESSION_COOKIE",
    "CardLogin",
    "CardSignatures",
    "PortalConfig",
    "PortalContext",
    "PortalMount",
    "PscConfig",
    "RecentLookup",
    "RecentLookups",
    "RunLookup",
    "StoredReports",
    "SupportContact",
    "Terms",
    "TermsAcceptances",
    "create_portal",
    "load_terms",
]
