"""The staff portal wired to the gateway: its lookups through the same ``LookupService`` as
every entry, its stores on the gateway's database, its session key and PSC client from the
settings (docs/decisions/0012-staff-portal.md)."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette

from cdr.clock import SystemClock
from cdr.service import LookupService
from cdr.settings import Settings
from cdr.storage.portal import SqlRecentLookups, SqlStoredReports, SqlTermsAcceptances
from fhir_server.portal import (
    CardLogin,
    CardSignatures,
    PortalConfig,
    PortalContext,
    PscConfig,
    RunLookup,
    SupportContact,
    create_portal,
    load_terms,
)
from rights.caller import Caller
from rights.catalogue import RegimeCatalogue
from rights.errors import ConfigError
from rights.model import RightsQuery
from rights.result import LookupReport

__all__ = ["build_portal", "load_or_create_session_key", "portal_lookup"]


def load_or_create_session_key(path: Path) -> str:
    """The secret signing the session cookies, shared by every worker process: made once
    (readable by the owner only), then read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the portal session key {path}: {exc}") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48))
    try:
        key = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the portal session key {path}: {exc}") from exc
    if len(key) < 32:
        raise ConfigError(f"the portal session key {path} is too short (32 characters at least)")
    return key


def portal_lookup(service: LookupService) -> RunLookup:
    async def run(query: RightsQuery, caller: Caller) -> tuple[str, LookupReport]:
        stored = await service.run(query, caller)
        return stored.lookup_id, stored.report

    return run


def build_portal(
    settings: Settings,
    *,
    catalogue: RegimeCatalogue,
    service: LookupService,
    engine: Engine,
    clock: SystemClock,
    card: CardLogin | None = None,
    signatures: CardSignatures | None = None,
) -> Starlette:
    """``card``: the CPx card login (None: PSC only); ``signatures``: the card's signature of
    a card session's lookups (attended mode)."""
    key_file = settings.effective_portal_session_key_file
    key_file.parent.mkdir(parents=True, exist_ok=True)
    config = PortalConfig(
        session_secret=load_or_create_session_key(key_file),
        idle_timeout_s=settings.portal_idle_timeout_s,
        # Secure cookies when browsers come over HTTPS: to us, or to a proxy in front.
        https_only=settings.effective_fhir_base_url.startswith("https://"),
        structure_finess=settings.requester_finess,
        psc=PscConfig(
            issuer=settings.effective_psc_issuer,
            client_id=settings.portal_psc_client_id,
            client_secret=settings.portal_psc_client_secret,
        ),
        # CDR_FHIR_BASE_URL names the public address, proxy included; without it, each
        # request's own address is used.
        public_url=None
        if settings.fhir_base_url is None
        else settings.effective_fhir_base_url.removesuffix("/fhir"),
        support=SupportContact(
            phone=settings.portal_support_phone,
            email=settings.portal_support_email,
            hours=settings.portal_support_hours,
        ),
    )
    context = PortalContext(
        config=config,
        catalogue=catalogue,
        run_lookup=portal_lookup(service),
        acceptances=SqlTermsAcceptances(engine),
        recent=SqlRecentLookups(engine),
        stored=SqlStoredReports(engine),
        terms=load_terms(),
        now=lambda: clock.now().astimezone(settings.zone),
        today=clock.today,
        blocking=asyncio.to_thread,
    )
    return create_portal(context, card=card, signatures=signatures)
