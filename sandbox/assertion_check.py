"""What the sandbox regimes verify of each call before answering (issue 13, item 4): the signed
assertion (``regimes.assertion``; decision 0008), of the structure or of the card holder at the
desk, and the mutual-TLS client certificate it is bound to.

For each call: the assertion's signing certificate chains to a trusted root (``x5c``), none of
the chain is revoked (the CAs' CRLs), it is valid now and made for signing (key usage, e-mail
protection EKU as IGC-Santé signature certificates have); the JWS signature holds; the assertion
is fresh (issued at most ``max_lifetime_s`` before it expires, not in the future beyond a small
skew, not expired); it is bound (``cnf``) to the TLS client certificate of this connection and
so cannot be replayed on another; its actor is the one whose certificate signed (the structure,
or the card holder); its structure is the one the TLS certificate names, and CDR serves it.
Each refusal names its reason, which reaches the caller as a regime rejection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import jwt
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rights.eligibility import CategoryTable, judge_structure
from rights.errors import IdentifierError
from sandbox.tls_peer import client_certificate_der

__all__ = ["AssertionChecker", "AssertionMiddleware", "AssertionTrust"]

_HEADER_KEY = b"x-cdr-assertion"  # regimes.assertion.ASSERTION_HEADER, lower-cased


@dataclass(frozen=True)
class AssertionTrust:
    """The roots and intermediates the sandbox trusts, and the CAs' CRLs."""

    roots: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[x509.CertificateRevocationList] = ()

    @classmethod
    def from_pem(cls, chain_pem: bytes, crls_pem: Sequence[bytes] = ()) -> AssertionTrust:
        certs = x509.load_pem_x509_certificates(chain_pem)
        roots = [c for c in certs if c.subject == c.issuer]
        others = [c for c in certs if c.subject != c.issuer]
        return cls(roots, others, [x509.load_pem_x509_crl(c) for c in crls_pem])


def _thumbprint(der: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _ou(cert: x509.Certificate) -> str | None:
    return _attribute(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)


def _actor(act: object, leaf: x509.Certificate, issuer: str) -> str | None:
    """Whether the signing certificate is the actor's: the structure's own ORG SIGN certificate
    (OU = its identifier) in unattended mode, the card holder's signature certificate (CN = the
    national identifier) in attended mode; a CPE acts only for the structure it belongs to."""
    if not isinstance(act, dict) or act.get("type") not in ("structure", "person"):
        return "the assertion names no actor (act: a structure or a person)"
    if act["type"] == "structure":
        if act.get("id") != issuer or _ou(leaf) != issuer:
            return f"the assertion's structure {issuer} is not the one its certificate names"
        return None
    holder = _attribute(leaf, NameOID.COMMON_NAME)
    if _ou(leaf) is not None or not holder or act.get("id") != holder:
        return "the assertion's actor is not the holder of the card certificate that signed it"
    profession = act.get("profession")
    if profession is not None and profession != _attribute(leaf, NameOID.TITLE):
        return "the assertion's profession is not the one the card certificate gives"
    if holder.startswith("3") and holder[1:].split("/", 1)[0] != issuer[1:]:
        return f"a CPE card acts only for its own structure, not for {issuer}"
    return None


@dataclass
class AssertionChecker:
    trust: AssertionTrust
    categories: CategoryTable
    category_of: Callable[[str], str | None]  # the directory's category of a FINESS
    now: Callable[[], datetime]
    max_lifetime_s: int = 300
    skew_s: int = 30
    remembered: int = 4096  # accepted (assertion, TLS certificate) pairs kept
    # An assertion is made once and sent for its short life (20 s, decision 0008): checked in
    # full the first time it comes on a connection's certificate, then only for its end of
    # life. What a full check reads (the trust, the CRLs, the directory) is fixed at start.
    _accepted: OrderedDict[tuple[str, bytes], float] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    def check(self, token: str | None, tls_client_der: bytes | None) -> str | None:
        """None when the call may be answered, else why it is refused (one sentence)."""
        if not token:
            return "no signed assertion: every call must carry one (X-CDR-Assertion)"
        if tls_client_der is not None:
            key = (token, tls_client_der)
            until = self._accepted.get(key)
            if until is not None:
                if self.now().timestamp() <= until:
                    return None
                del self._accepted[key]
        return self._check(token, tls_client_der)

    def _remember(self, token: str, tls_client_der: bytes, until: float) -> None:
        self._accepted[(token, tls_client_der)] = until
        while len(self._accepted) > self.remembered:
            self._accepted.popitem(last=False)

    def _check(self, token: str, tls_client_der: bytes | None) -> str | None:
        try:
            header = jwt.get_unverified_header(token)
            chain = [
                x509.load_der_x509_certificate(base64.b64decode(c, validate=True))
                for c in header.get("x5c") or []
            ]
        except (jwt.InvalidTokenError, ValueError, binascii.Error):
            return "the assertion is not a JWS with its certificate chain (x5c)"
        if not chain:
            return "the assertion carries no certificate (x5c)"
        moment = self.now()
        leaf = chain[0]
        reason = self._certificate(leaf, chain[1:], moment)
        if reason is not None:
            return reason
        try:
            claims = jwt.decode(
                token,
                leaf.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                # Times are checked below against the sandbox's clock, not the library's.
                options={
                    "require": ["iss", "iat", "exp", "jti", "cnf"],
                    "verify_iat": False,
                    "verify_exp": False,
                },
            )
        except jwt.InvalidSignatureError:
            return "the assertion's signature does not hold: it was altered or not signed so"
        except jwt.InvalidTokenError as exc:
            return f"the assertion is not valid: {exc}"
        reason = self._claims(claims, leaf, tls_client_der, moment)
        if reason is None and tls_client_der is not None:
            # Accepted until it goes stale, or its certificate ends, whichever comes first.
            until = min(int(claims["exp"]) + self.skew_s, leaf.not_valid_after_utc.timestamp())
            self._remember(token, tls_client_der, until)
        return reason

    def _certificate(
        self, leaf: x509.Certificate, sent: Sequence[x509.Certificate], moment: datetime
    ) -> str | None:
        verifier = (
            PolicyBuilder()
            .store(Store(list(self.trust.roots)))
            .time(moment)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),  # usages checked below, as IGC-Santé's
            )
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(leaf, [*sent, *self.trust.intermediates]).chain
        except VerificationError as exc:
            return f"the assertion's certificate does not chain to a trusted root: {exc}"
        for cert in verified:
            if self._revoked(cert):
                return f"the certificate {cert.subject.rfc4514_string()} is revoked"
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
            purposes = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return "the assertion's certificate says nothing of what its key is for"
        if not (usage.digital_signature or usage.content_commitment) or (
            ExtendedKeyUsageOID.EMAIL_PROTECTION not in purposes
        ):
            return "the assertion's certificate is not a signature certificate (key usage)"
        return None

    def _claims(
        self,
        claims: dict[str, object],
        leaf: x509.Certificate,
        tls_client_der: bytes | None,
        moment: datetime,
    ) -> str | None:
        now = moment.timestamp()
        issued, expires = claims["iat"], claims["exp"]  # jti: required, kept for the logs
        if not isinstance(issued, int) or not isinstance(expires, int):
            return "the assertion's times are not numbers"
        if expires < now - self.skew_s:
            return "the assertion has expired: a stale assertion is refused"
        if issued > now + self.skew_s:
            return "the assertion is issued in the future"
        if expires - issued > self.max_lifetime_s:
            return f"the assertion lives longer than {self.max_lifetime_s} s"
        issuer = str(claims["iss"])
        reason = _actor(claims.get("act"), leaf, issuer)
        if reason is not None:
            return reason
        # Replay: an assertion is reused for its short life by its own structure, on its own
        # TLS connections; taken and sent on another connection, its binding gives it away.
        if tls_client_der is None:
            return "the assertion must travel over mutual TLS, with a client certificate"
        cnf = claims["cnf"]
        bound = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
        if bound != _thumbprint(tls_client_der):
            return "the assertion is bound to another TLS client certificate: a replay"
        tls_cert = x509.load_der_x509_certificate(tls_client_der)
        if _ou(tls_cert) != issuer:
            return "the TLS client certificate names another structure than the assertion"
        if self._revoked(tls_cert):
            return f"the TLS client certificate {tls_cert.subject.rfc4514_string()} is revoked"
        return self._eligible(issuer, claims.get("category"))

    def _revoked(self, cert: x509.Certificate) -> bool:
        return any(
            crl.issuer == cert.issuer
            and crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
            for crl in self.trust.crls
        )

    def _eligible(self, issuer: str, claimed: object) -> str | None:
        finess = issuer[1:] if issuer.startswith("1") else issuer
        category = self.category_of(finess) or (claimed if isinstance(claimed, str) else None)
        try:
            verdict = judge_structure(finess, category, self.categories)
        except IdentifierError as exc:
            return f"the assertion's structure is not a FINESS: {exc.message}"
        if not verdict.eligible:
            return f"structure {finess}: {verdict.reason}"
        return None


class AssertionMiddleware:
    """Refuses every ``/regimes/...`` call (health probes excepted) whose assertion the checker
    refuses: HTTP 403 with the reason, which the gateway passes on to its caller."""

    def __init__(self, app: ASGIApp, checker: AssertionChecker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/regimes/") or path.endswith("/health"):
            await self.app(scope, receive, send)
            return
        token = None
        for key, value in scope["headers"]:
            if key == _HEADER_KEY:
                token = value.decode("latin-1")
                break
        reason = self.checker.check(token, client_certificate_der(scope))
        if reason is not None:
            await JSONResponse({"error": reason}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
