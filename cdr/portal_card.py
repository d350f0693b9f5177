"""The portal's CPx card login (issue 15; docs/decisions/0012-staff-portal.md): the portal's
``CardLogin`` port made of the desk's agent (``cdr card agent``) and the gateway's check of
what it answers (``card.login``: the challenge's signature, the chain to the trusted IGC-Santé
CAs and their CRLs). Built here, in the composition root, because the portal and the card
package know nothing of each other."""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from cryptography import x509

from card.agent import from_b64url
from card.holder import CardHolder, holder_from_certificate
from card.login import CardLoginRefused, CardTrust, verify_card_login
from cdr.regime_trust import card_holder_actor, structure_category, structure_tls_certificate
from cdr.settings import Settings
from fhir_server.portal import CardSignatures
from fhir_server.portal.login import CardLogin
from fhir_server.portal.professional import Professional
from regimes.assertion import PresignedAssertion, assertion_signing_input
from regimes.port import signed_by
from rights.errors import ConfigError
from sandbox.eligibility import default_structures

__all__ = ["AgentCardLogin", "CardAssertions", "build_card_login", "build_card_signatures"]


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


class CardAssertions:
    """``CardSignatures``: a card session's assertion built here (the structure's TLS
    certificate bound, the card holder as the actor), signed at the desk, used on every regime
    call of the lookup (``regimes.port.signed_by``)."""

    def __init__(
        self,
        *,
        tls_client_cert: x509.Certificate,
        finess: str,
        category: str,
        now: Callable[[], datetime],
    ) -> None:
        self._tls = tls_client_cert
        self._finess = finess
        self._category = category
        self._now = now

    def signing_input(self, user: Professional, certificate: bytes) -> str:
        try:
            signing = x509.load_der_x509_certificate(certificate)
            holder = holder_from_certificate(certificate)
        except ValueError:
            raise CardLoginRefused("bad-certificate", "unreadable certificate") from None
        if holder.national_id != user.national_id:
            raise CardLoginRefused(
                "not-holder", "la carte dans le lecteur n'est pas celle de la session"
            )
        return assertion_signing_input(
            chain=[signing],
            tls_client_cert=self._tls,
            finess=self._finess,
            category=self._category,
            actor=card_holder_actor(holder),
            now=self._now(),
        )

    def acting(self, signing_input: str, signature: bytes) -> AbstractContextManager[None]:
        return signed_by(PresignedAssertion(signing_input, signature))


def build_card_signatures(settings: Settings, now: Callable[[], datetime]) -> CardSignatures | None:
    """Attended mode for the portal's card sessions when the regime calls are mutual TLS (an
    assertion is bound to the structure's TLS certificate); None otherwise."""
    if settings.portal_card_ca_file is None:
        return None
    tls = structure_tls_certificate(settings)
    if tls is None:
        return None
    return CardAssertions(
        tls_client_cert=tls,
        finess=settings.requester_finess,
        category=structure_category(settings),
        now=now,
    )
