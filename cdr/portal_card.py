"""The portal's CPx card login (issue 15; docs/decisions/0012-staff-portal.md): the portal's
``CardLogin`` port made of the desk's agent (``cdr card agent``) and the gateway's check of
what it answers (``card.login``: the challenge's signature, the chain to the trusted IGC-Santé
CAs and their CRLs). Built here, in the composition root, because the portal and the card
package know nothing of each other."""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from card.agent import from_b64url
from card.holder import CardHolder
from card.login import CardLoginRefused, CardTrust, verify_card_login
from cdr.settings import Settings
from fhir_server.portal.login import CardLogin
from fhir_server.portal.professional import Professional
from rights.errors import ConfigError
from sandbox.eligibility import default_structures

__all__ = ["AgentCardLogin", "build_card_login"]


class AgentCardLogin:
    """``CardLogin``: the page reaches the agent at ``agent``; its answer is checked here."""

    def __init__(
        self,
        agent: str,
        trust: CardTrust,
        now: Callable[[], datetime],
        *,
        structure_finess: str,
        structure_name: Callable[[str], str],
    ) -> None:
        self._agent = agent.rstrip("/")
        self._trust = trust
        self._now = now
        self._structure_finess = structure_finess
        self._structure_name = structure_name

    def agent_url(self) -> str | None:
        return self._agent

    async def professional(self, challenge: str, answer: Mapping[str, Any]) -> Professional:
        try:
            signature = from_b64url(str(answer["signature"]))
            certificate = from_b64url(str(answer["certificate"]))
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise CardLoginRefused(
                "bad-answer", "the agent's answer carries no signature and certificate"
            ) from None
        try:
            # The agent signs the challenge's bytes (it travels in base64url).
            challenge_bytes = from_b64url(challenge)
        except (ValueError, binascii.Error):
            raise CardLoginRefused("bad-answer", "the challenge is not base64url") from None
        holder = verify_card_login(
            challenge_bytes, signature, certificate, self._trust, self._now()
        )
        return self._professional(holder)

    def _professional(self, holder: CardHolder) -> Professional:
        # A CPE names its structure; a personal card acts in the gateway's structure.
        finess = holder.structure_finess or self._structure_finess
        return Professional(
            national_id=holder.national_id,
            rpps=holder.identifier if holder.identifier_kind == "RPPS" else "",
            family_name=holder.surname,
            given_name=holder.given,
            profession=holder.profession,
            structure=self._structure_name(finess),
            structure_finess=finess,
            login="card",
        )


def build_card_login(settings: Settings, now: Callable[[], datetime]) -> CardLogin | None:
    """The card login when a trust for card certificates is configured
    (``CDR_PORTAL_CARD_CA_FILE``; the demo's test PKI by default), else None: PSC only."""
    if settings.portal_card_ca_file is None:
        return None
    try:
        trust = CardTrust.from_pem(
            settings.portal_card_ca_file.read_bytes(),
            [path.read_bytes() for path in settings.portal_card_crl_files],
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"CDR_PORTAL_CARD_CA_FILE / _CRL_FILES cannot be read: {exc}") from None
    directory = default_structures()

    def structure_name(finess: str) -> str:
        listed = directory.find(finess)
        return listed.name if listed is not None else f"FINESS {finess}"

    return AgentCardLogin(
        settings.effective_portal_card_agent_url,
        trust,
        now,
        structure_finess=settings.requester_finess,
        structure_name=structure_name,
    )
