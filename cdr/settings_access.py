"""The settings of who may ask and what is kept (``CDR_AUTH``, the audit trail, retention,
HTTPS for the API): a part of ``cdr.settings.Settings``, kept apart to keep each file small.
Their checks live beside them; the file checks (a path must exist) are ``Settings``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

__all__ = ["AccessSettings"]


class AccessSettings(BaseModel):
    # DESIGN §9: API and MLLP authentication. Off is allowed only while every listener binds
    # loopback, unless CDR_ALLOW_OPEN says so (docs/security.md, "Exposure").
    auth: Literal["on", "off"] = "off"
    allow_open: bool = False
    # The audit trail (docs/security.md "Audit"): an AuditEvent for every lookup and every
    # refused request, hash-chained in the database. Off only to measure what it costs.
    audit: Literal["on", "off"] = Field(
        "on", description="on: every lookup and refusal recorded in the audit trail"
    )
    # A copy of the trail sent to a syslog collector (RFC 5424 over TCP or TLS, as IHE ATNA).
    audit_syslog_url: str | None = Field(
        None, description="tcp://host:port or tls://host:port of a syslog collector"
    )
    audit_syslog_ca_file: Path | None = Field(
        None, description="CAs (PEM) the tls:// collector's certificate must chain to"
    )
    audit_syslog_cert_file: Path | None = Field(
        None, description="our client certificate (PEM) for a tls:// collector that asks one"
    )
    audit_syslog_key_file: Path | None = Field(None, description="its private key (PEM)")
    # With CDR_AUTH=on (docs/decisions/0010-api-authentication.md): the key the gateway signs
    # its access tokens with (default: made on first start in <data_dir>), their lifetime, and
    # an external authorization server whose tokens are accepted as well.
    auth_token_key_file: Path | None = Field(
        None,
        description="PEM private key (RSA, or EC P-256/P-384) signing the access tokens; "
        "default <data_dir>/auth-token-key.pem, made on first start",
    )
    auth_token_lifetime_s: int = Field(
        300, ge=10, le=300, description="lifetime of the access tokens issued (at most 300 s)"
    )
    auth_jwks_cache_s: float = Field(
        300.0, gt=0, description="how long a JWK Set fetched from a URL is used before fetching"
    )
    auth_external_issuer: str | None = Field(
        None, description="iss of the tokens of an external authorization server to accept"
    )
    auth_external_audience: str | None = Field(
        None, description="aud those tokens must carry; default the FHIR base URL"
    )
    auth_external_jwks_url: str | None = Field(
        None, description="where that server publishes its signing keys (JWK Set)"
    )
    # --- Retention (issue 14 item 5; docs/security.md, "Retention") ---
    retention_days: int = Field(
        365,
        ge=1,
        le=36_500,
        description="days the lookups, FHIR answers and finished HL7 messages are kept; "
        "`cdr purge` and the periodic purge of `cdr serve` delete older ones",
    )
    audit_retention_days: int = Field(
        1095,
        ge=1,
        le=36_500,
        description="days the audit trail is kept (at least CDR_RETENTION_DAYS); older events "
        "are purged with the rest, the chain still verifiable from the first one kept",
    )
    purge_interval_s: float = Field(
        3600.0,
        ge=0,
        description="seconds between two purges of `cdr serve` (the first shortly after it "
        "starts); 0: never (then only `cdr purge`)",
    )
    # HTTPS for the API (docs/security.md): with a client CA, a client certificate is asked
    # (not required, so that token clients without one still connect) and one those CAs did not
    # sign fails the handshake; a registered one authenticates its client (`cdr clients add
    # --certificate`).
    http_tls_cert_file: Path | None = Field(
        None,
        description="the API's certificate (PEM, with its chain): the API is then served over "
        "HTTPS only",
    )
    http_tls_key_file: Path | None = Field(
        None, description="its private key (PEM; default: in the certificate's file)"
    )
    http_tls_client_ca_file: Path | None = Field(
        None,
        description="CAs (PEM) whose client certificates are accepted: a client certificate is "
        "asked, and a registered one authenticates its client without a token",
    )

    @field_validator(
        "auth_token_key_file",
        "audit_syslog_ca_file",
        "audit_syslog_cert_file",
        "audit_syslog_key_file",
        "http_tls_cert_file",
        "http_tls_key_file",
        "http_tls_client_ca_file",
    )
    @classmethod
    def _check_access_file(cls, value: Path | None) -> Path | None:
        # As ``Settings._check_file`` for the other files: first, so that a missing file is
        # what a bad path is told.
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("http_tls_key_file", "http_tls_client_ca_file")
    @classmethod
    def _check_http_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Without a certificate the API speaks plain HTTP: these would never apply.
        if value is not None and info.data.get("http_tls_cert_file") is None:
            raise ValueError("set without CDR_HTTP_TLS_CERT_FILE")
        return value

    @field_validator("audit_syslog_url")
    @classmethod
    def _check_syslog_url(cls, value: str | None) -> str | None:
        if value:
            from cdr.audit_syslog import parse_syslog_url

            parse_syslog_url(value)  # its ValueError names what is wrong
        return value or None

    @model_validator(mode="after")
    def _audit_outlives_data(self) -> Self:
        # The trail says who looked up what: it must not go before what it is about.
        if self.audit_retention_days < self.retention_days:
            raise ValueError(
                f"CDR_AUDIT_RETENTION_DAYS ({self.audit_retention_days}) is shorter than "
                f"CDR_RETENTION_DAYS ({self.retention_days}): the audit trail is kept longer"
            )
        return self
