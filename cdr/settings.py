"""All configuration in one place: ``CDR_*`` environment variables (and a ``.env`` file).

Lists and objects are JSON, e.g. ``CDR_SANDBOX_FAULTS='{"msa": {"latency_ms": 200}}'``. Every
value is checked here, so that ``cdr.cli`` can name a bad variable before anything starts.
"""

from __future__ import annotations

import ipaddress
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cdr.clock import DEFAULT_TIMEZONE
from cdr.event_loop import EventLoopChoice
from cdr.hl7_options import HL7DestinationOptions
from cdr.regime_options import RegimeEndpointOptions
from cdr.settings_access import AccessSettings
from cdr.settings_portal import PortalSettings

__all__ = ["Settings", "check_destination", "mllp_address"]


class Settings(BaseSettings, AccessSettings, PortalSettings):
    # ``enable_decoding=False``: JSON-valued settings are decoded by ``_check_raw`` below, so that
    # a malformed value is a validation error naming the variable, not a SettingsError trace.
    model_config = SettingsConfigDict(
        env_prefix="CDR_", env_file=".env", extra="ignore", enable_decoding=False
    )

    data_dir: Path = Field(Path("var"), description="where the SQLite database and files live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/cdr.sqlite3"
    )

    # DESIGN §9: every listener binds loopback unless `--host ADDR` / `CDR_HOST` says otherwise;
    # CDR_HTTP_HOST and CDR_MLLP_HOST still set one listener each.
    host: str | None = Field(None, description="address the HTTP and MLLP listeners bind")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    mllp_host: str = "127.0.0.1"
    mllp_port: int = Field(2575, ge=0, le=65535)
    # Worker processes serving the HTTP API; above 1 the parent only migrates, runs the embedded
    # sandbox and supervises (`cdr serve --workers N`).
    workers: int = Field(1, ge=1, le=64)

    fhir_base_url: str | None = Field(
        None, description="public base URL of the FHIR API; default http://<host>:<port>/fhir"
    )
    fhir_max_body_bytes: int = Field(1_048_576, ge=1024)
    log_format: Literal["json", "text"] = Field(
        "json", description="service logs: JSON lines (with correlation id) or plain text"
    )

    # The regime backend: the embedded sandbox by default, or any base URL speaking our wires.
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(8090, ge=0, le=65535)
    regimes_url: str | None = Field(
        None, description="base URL of the regime services; default the embedded sandbox"
    )
    regimes_proxy_url: str | None = Field(
        None,
        description="HTTP proxy (http://host:port) the regime calls go through; https ones "
        "tunnel with CONNECT, TLS and its client certificate still end to end",
    )
    # TLS to the regime services (DESIGN §7), a default for all regimes; CDR_REGIME_ENDPOINTS
    # overrides any of them, and the URL, per regime (docs/architecture.md, "Regime calls").
    regimes_ca_file: Path | None = Field(
        None,
        description="CA certificates (PEM) trusted for https regime services; default the system's",
    )
    regimes_client_cert_file: Path | None = Field(
        None, description="client certificate (PEM) presented to https regime services"
    )
    regimes_client_key_file: Path | None = Field(
        None, description="private key (PEM) of the client certificate; default in its file"
    )
    regime_endpoints: dict[str, RegimeEndpointOptions] = Field(
        default_factory=dict,
        description="per regime code: url, ca_file, client_cert_file, client_key_file, e.g. "
        '{"msa": {"url": "https://msa.example:8443", "client_cert_file": "msa.pem"}}',
    )
    # TLS for the embedded sandbox (`cdr serve`, `cdr sandbox serve`): with a certificate it
    # serves https (and the default CDR_REGIMES_URL follows); with a client CA it requires
    # client certificates that CA signed, as the regime services do (DESIGN §7).
    sandbox_tls_cert_file: Path | None = Field(
        None, description="the sandbox's server certificate (PEM): serve https"
    )
    sandbox_tls_key_file: Path | None = Field(
        None, description="the private key of that certificate; default in its file"
    )
    sandbox_tls_client_ca_file: Path | None = Field(
        None, description="CA certificates (PEM): require a client certificate they signed"
    )
    # The sandbox's check of each call's signed assertion (decision 0008): the trust is the
    # client CA file above (root and sub-CAs); the CAs' CRLs are listed here.
    sandbox_require_assertions: bool = Field(
        False, description="refuse every regime call without a valid signed assertion"
    )
    sandbox_crl_files: list[Path] = Field(
        default_factory=list, description='CRLs (PEM) of the trusted CAs, e.g. ["persons.crl.pem"]'
    )
    sandbox_seed: int = 20091
    sandbox_per_regime: int = Field(20, ge=0, le=100_000)
    sandbox_faults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='faults per regime, e.g. {"msa": {"down": true}}'
    )
    # The embedded demo secured as the real service is (cdr.demo_security): a test PKI in
    # <data_dir>/pki, mutual TLS and signed assertions between the gateway and the sandbox,
    # and an emulated card in the virtual reader. Only with the embedded sandbox and no
    # certificate configured; "off" keeps the plain-HTTP demo.
    demo_security: Literal["on", "off"] = Field(
        "on", description="the embedded demo's test PKI, mutual TLS and assertions"
    )
    demo_card: Literal[
        "medecin", "infirmier", "pharmacien", "cpe-secretaire", "cpf-interne", "off"
    ] = Field("medecin", description="the emulated card `cdr serve` puts in the virtual reader")
    # The desk's card agent (`cdr card agent`): loopback only, for the portal's origin only.
    card_agent_port: int = Field(8765, ge=1, le=65535, description="the card agent's port")
    card_agent_origin: str | None = Field(
        None, description="the portal origin the card agent answers; default the gateway's"
    )

    # The structure the gateway acts for: who it says it is when no person asks (unattended
    # HL7 / FHIR flows). CDR_STRUCTURE_FINESS (DESIGN §9) wins over the older
    # CDR_REQUESTER_FINESS; the demo default is an eligible structure of the sandbox's FINESS
    # directory. Its category is looked up there, or given by CDR_STRUCTURE_CATEGORY; `cdr
    # serve` refuses to start for a structure CDR does not serve.
    requester_finess: str = "750100018"
    structure_finess: str | None = None
    structure_category: str | None = Field(None, pattern=r"^\d{3}$")
    # Its ORG SIGN certificate (PEM, with its chain) and key: with them, every regime call
    # carries the structure's signed assertion, bound to CDR_REGIMES_CLIENT_CERT_FILE.
    structure_sign_cert_file: Path | None = Field(
        None, description="the structure's signature certificate and chain (PEM)"
    )
    structure_sign_key_file: Path | None = Field(
        None, description="the private key of that certificate (PEM)"
    )

    # HL7 v2 over MLLP (docs/hl7-interface.md).
    hl7_application: str = Field("CDR-GATEWAY", description="our MSH-3 in ACKs and results")
    hl7_facility: str = Field("CDR", description="our MSH-4 in ACKs and results")
    hl7_destinations: list[str] = Field(
        default_factory=list,
        description='where results go: MLLP host:port or FHIR base URLs, e.g. ["127.0.0.1:6661"]',
    )
    hl7_result_message: Literal["Z99", "A31"] = Field(
        "Z99", description="ADT^Z99 (IHE PAM France update) or ADT^A31 for the results"
    )
    hl7_other_events: Literal["reject", "accept"] = Field(
        "reject", description="ADT events that trigger no lookup: AR 201, or AA and ignored"
    )
    hl7_lanes: int = Field(32, ge=1, le=1024, description="concurrent lookups from the inbox")
    hl7_processing_process: bool = Field(
        True, description="run the HL7 lookups and deliveries in a process beside the intake"
    )
    mllp_idle_timeout_s: float = Field(300.0, gt=0)
    mllp_max_message_bytes: int = Field(1_048_576, ge=1024)
    mllp_max_connections: int = Field(1000, ge=1)
    mllp_allowed_peers: list[str] = Field(
        default_factory=list,
        description='addresses or networks allowed to connect, e.g. ["10.1.2.0/24", "::1"]; '
        "empty: any peer (loopback-only by default, see CDR_ALLOW_OPEN)",
    )
    mllp_tls_cert_file: Path | None = Field(
        None,
        description="the MLLP listener's certificate (PEM, with its chain): every connection "
        "is then TLS",
    )
    mllp_tls_key_file: Path | None = Field(
        None, description="its private key (PEM; default: in the certificate's file)"
    )
    mllp_tls_client_ca_file: Path | None = Field(
        None,
        description="CAs (PEM) one of which must have signed each peer's certificate: without "
        "a valid client certificate a peer is refused (IHE ATNA secure node)",
    )
    hl7_outbound_max_attempts: int = Field(10, ge=1)
    hl7_outbound_backoff_s: float = Field(1.0, ge=0)
    hl7_outbound_backoff_max_s: float = Field(300.0, ge=0)
    hl7_outbound_timeout_s: float = Field(10.0, gt=0)

    regime_timeout_s: float = Field(3.0, gt=0)
    regime_max_attempts: int = Field(3, ge=1, le=10)
    regime_backoff_s: float = Field(0.05, ge=0)
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_s: float = Field(30.0, gt=0)
    cache_ttl_s: float = Field(300.0, ge=0)
    cache_size: int = Field(10_000, ge=0)
    http_pool_size: int = Field(100, ge=1)

    # HL7 results per destination (PAM FR conformance, issue 20): JSON map "host:port" →
    # {"charset": "8859/15" | "UNICODE UTF-8" | "8859/1" | "ASCII", "zrd": true | false}.
    # A destination not listed gets the defaults (8859/15, ZRD sent).
    hl7_destination_options: dict[str, HL7DestinationOptions] = Field(
        default_factory=dict,
        description="per MLLP destination: result charset (MSH-18) and whether ZRD is sent",
    )
    # HL7 re-lookups (issue 18 item 5): an admission whose lookup could not ask a regime is
    # looked up again in the background for this window (0: never), with backoff.
    hl7_relookup_window_s: float = Field(3600.0, ge=0)
    hl7_relookup_backoff_s: float = Field(30.0, gt=0)
    hl7_relookup_backoff_max_s: float = Field(600.0, gt=0)
    # --- HTTP API: what one client may hold (cdr/http_guard.py, docs/decisions/) ---------------
    http_max_header_bytes: int = Field(
        65_536, ge=1024, description="largest request head (line and headers); above: 431"
    )
    http_header_timeout_s: float = Field(
        10.0, gt=0, description="time for a request head to arrive; then 408 and close"
    )
    http_body_timeout_s: float = Field(
        30.0, gt=0, description="time for a request body to arrive after its head; then 408"
    )
    http_max_connections: int = Field(
        1000, ge=1, description="open HTTP connections; above, the longest idle one is closed"
    )

    # --- Operations (issue 18): the establishment's clock, the log level, value checks. ---
    timezone: str = Field(
        DEFAULT_TIMEZONE,
        description="the establishment's IANA time zone: the default date of care and the UTC "
        "offsets written in HL7 timestamps",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe service log lines written"
    )
    metrics_dir: Path | None = Field(
        None,
        description="where the processes of `cdr serve` share their metrics; set by `cdr serve` "
        "(<data_dir>/metrics, emptied at start)",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _check_raw(cls, value: Any, info: ValidationInfo) -> Any:
        """Every setting read from text: JSON-valued ones decoded here (a bad document is the
        setting's error), the others refused when they hold control characters (a stray
        newline or escape in an environment file is never meant)."""
        if not isinstance(value, str) or info.field_name is None:
            return value
        field = cls.model_fields[info.field_name]
        if _is_json_valued(field.annotation):
            try:
                return json.loads(value)
            except ValueError as exc:
                kind = "list" if typing.get_origin(field.annotation) is list else "object"
                about = f" ({field.description})" if field.description else ""
                raise ValueError(f"expected a JSON {kind}{about}; not JSON: {exc}") from None
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name such as Europe/Paris") from None
        return value

    @field_validator("hl7_destinations")
    @classmethod
    def _check_destinations(cls, value: list[str]) -> list[str]:
        for destination in value:
            check_destination(destination)
        return value

    @field_validator("host", "http_host", "mllp_host", "sandbox_host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is None:
            return value  # only `host` may be unset: each listener then keeps its own
        if not value or (any(char in value for char in " /:@") and not _is_ipv6(value)):
            raise ValueError("expected a host name or IP address")
        return value

    @field_validator(
        "fhir_base_url", "regimes_url", "regimes_proxy_url", "auth_external_jwks_url", mode="after"
    )
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_url(value):
            raise ValueError("expected an http:// or https:// URL with a host")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(
                "expected an SQLAlchemy URL such as sqlite:///var/cdr.sqlite3 or "
                "postgresql+psycopg://user@host/db"
            ) from None
        return value

    @field_validator("requester_finess", "structure_finess")
    @classmethod
    def _check_finess(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from rights.errors import InputError
        from rights.identifiers import parse_finess

        try:
            return parse_finess(value).value
        except InputError as exc:
            raise ValueError(f"expected a FINESS: {exc.message}") from None

    @field_validator("hl7_application", "hl7_facility")
    @classmethod
    def _check_hd(cls, value: str) -> str:
        # HL7 v2.5 §2.5.4: the encoding characters may not appear in a value sent as is.
        if not value or any(char in value for char in "|^~\\&"):
            raise ValueError("expected a non-empty name without the HL7 delimiters |^~\\&")
        return value

    @field_validator("sandbox_faults")
    @classmethod
    def _check_faults(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # Imported here: the sandbox's modules are not needed to read the settings otherwise.
        from rights.catalogue import default_catalogue
        from rights.errors import CdrError
        from sandbox.faults import FaultBook

        try:
            FaultBook.from_config(value, default_catalogue().codes)
        except CdrError as exc:
            raise ValueError(
                f"{exc.message}; expected e.g. "
                '{"msa": {"down": true}, "*": {"latency_ms": 50}}'
            ) from None
        return value

    # FHIR search at scale (issue 19): the time budget of one search, past which it is answered
    # 400 too-costly (docs/fhir-profile.md, search).
    search_timeout_s: float = Field(5.0, gt=0, description="time budget of one FHIR search")

    # --- MLLP memory bounds (issue 11.8): bytes received and held before they are handled ---
    mllp_max_pending_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="per MLLP connection: bytes of received frames waiting to be handled "
        "before reading from it pauses",
    )
    mllp_max_pending_bytes_total: int = Field(
        67_108_864,
        ge=65_536,
        description="all MLLP connections together: bytes held (frames waiting and in "
        "progress) before reading pauses",
    )

    # --- Durability of an AA on SQLite (issue 11.11; docs/hl7-interface.md §6) ---
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description="full: each HL7 inbox commit is flushed to disk before its AA (survives "
        "a power loss); normal: survives a crash of the gateway, not of the machine",
    )

    # --- Runtime ---
    event_loop: EventLoopChoice = Field(
        "auto",
        description="the servers' event loop: auto (uvloop when installed), asyncio (the "
        "standard library's), uvloop",
    )

    @field_validator("regimes_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator(
        "regimes_ca_file",
        "regimes_client_cert_file",
        "regimes_client_key_file",
        "sandbox_tls_cert_file",
        "sandbox_tls_key_file",
        "sandbox_tls_client_ca_file",
        "structure_sign_cert_file",
        "structure_sign_key_file",
        "mllp_tls_cert_file",
        "mllp_tls_key_file",
        "mllp_tls_client_ca_file",
    )
    @classmethod
    def _check_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("sandbox_tls_key_file", "sandbox_tls_client_ca_file")
    @classmethod
    def _check_sandbox_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Without a server certificate the sandbox serves plain HTTP: these would never apply.
        if value is not None and info.data.get("sandbox_tls_cert_file") is None:
            raise ValueError("set without CDR_SANDBOX_TLS_CERT_FILE")
        return value

    @field_validator("mllp_tls_key_file", "mllp_tls_client_ca_file")
    @classmethod
    def _check_mllp_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Without a certificate the listener speaks plain MLLP: these would never apply.
        if value is not None and info.data.get("mllp_tls_cert_file") is None:
            raise ValueError("set without CDR_MLLP_TLS_CERT_FILE")
        return value

    @field_validator("regime_endpoints")
    @classmethod
    def _check_endpoints(
        cls, value: dict[str, RegimeEndpointOptions]
    ) -> dict[str, RegimeEndpointOptions]:
        from rights.catalogue import default_catalogue

        codes = default_catalogue().codes
        for code, options in value.items():
            if code not in codes:
                raise ValueError(f"{code!r} is not a regime code ({', '.join(codes)})")
            if options.url is not None and not _is_http_url(options.url):
                raise ValueError(f"{code}: expected an http:// or https:// URL with a host")
            for path in (options.ca_file, options.client_cert_file, options.client_key_file):
                if path is not None and not path.is_file():
                    raise ValueError(f"{code}: no such file: {path}")
            if options.client_key_file is not None and options.client_cert_file is None:
                # The default certificate comes with the default key: a key alone is a slip.
                raise ValueError(f"{code}: client_key_file is set without client_cert_file")
        return value

    @field_validator("regimes_client_key_file")
    @classmethod
    def _check_client_key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # A key alone presents nothing: it is a slip, not a choice.
        if value is not None and info.data.get("regimes_client_cert_file") is None:
            raise ValueError("set without CDR_REGIMES_CLIENT_CERT_FILE")
        return value

    @field_validator("hl7_destination_options")
    @classmethod
    def _check_options_name_destinations(
        cls, value: dict[str, HL7DestinationOptions], info: ValidationInfo
    ) -> dict[str, HL7DestinationOptions]:
        # An entry for a destination results never go to is a typing slip, not a choice.
        destinations = info.data.get("hl7_destinations") or []
        unknown = [key for key in value if key not in destinations]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not in CDR_HL7_DESTINATIONS "
                f"({', '.join(destinations) or 'none'}): its options would never apply"
            )
        return value

    @field_validator("mllp_allowed_peers")
    @classmethod
    def _check_peers(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("sandbox_crl_files")
    @classmethod
    def _check_crl_files(cls, value: list[Path]) -> list[Path]:
        for path in value:
            if not path.is_file():
                raise ValueError(f"no such file: {path}")
        return value

    @model_validator(mode="after")
    def _check_assertion_material(self) -> Settings:
        signing = (self.structure_sign_cert_file, self.structure_sign_key_file)
        if (signing[0] is None) != (signing[1] is None):
            raise ValueError(
                "CDR_STRUCTURE_SIGN_CERT_FILE and CDR_STRUCTURE_SIGN_KEY_FILE go together"
            )
        if signing[0] is not None and self.regimes_client_cert_file is None:
            raise ValueError(
                "CDR_STRUCTURE_SIGN_CERT_FILE needs CDR_REGIMES_CLIENT_CERT_FILE: an assertion "
                "is bound to the TLS client certificate it travels with"
            )
        external = (self.auth_external_issuer, self.auth_external_jwks_url)
        if (external[0] is None) != (external[1] is None):
            raise ValueError("CDR_AUTH_EXTERNAL_ISSUER and CDR_AUTH_EXTERNAL_JWKS_URL go together")
        if self.auth_external_audience is not None and external[0] is None:
            raise ValueError("CDR_AUTH_EXTERNAL_AUDIENCE is set without CDR_AUTH_EXTERNAL_ISSUER")
        if self.sandbox_require_assertions and self.sandbox_tls_client_ca_file is None:
            raise ValueError(
                "CDR_SANDBOX_REQUIRE_ASSERTIONS needs CDR_SANDBOX_TLS_CLIENT_CA_FILE (the trust)"
            )
        return self

    @model_validator(mode="after")
    def _apply_structure(self) -> Settings:
        if self.structure_finess is not None:
            self.requester_finess = self.structure_finess
        return self

    @model_validator(mode="after")
    def _apply_host(self) -> Settings:
        if self.host:
            for field in ("http_host", "mllp_host"):
                if field not in self.model_fields_set:
                    setattr(self, field, self.host)
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The establishment's time zone (``timezone``, checked when read)."""
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cdr.sqlite3').as_posix()}"

    @property
    def effective_fhir_base_url(self) -> str:
        default = f"{self.http_scheme}://{self.http_host}:{self.http_port}/fhir"
        return (self.fhir_base_url or default).rstrip("/")

    @property
    def http_scheme(self) -> str:
        """``https`` when the API is served over TLS (``CDR_HTTP_TLS_CERT_FILE``)."""
        return "http" if self.http_tls_cert_file is None else "https"

    @property
    def effective_token_url(self) -> str:
        """The token endpoint: beside the FHIR base (``…/fhir`` → ``…/auth/token``)."""
        return self.effective_fhir_base_url.removesuffix("/fhir") + "/auth/token"

    @property
    def effective_token_key_file(self) -> Path:
        return self.auth_token_key_file or self.data_dir / "auth-token-key.pem"

    @property
    def effective_portal_card_agent_url(self) -> str:
        return (self.portal_card_agent_url or f"http://127.0.0.1:{self.card_agent_port}").rstrip(
            "/"
        )

    @property
    def effective_card_agent_origin(self) -> str:
        """The portal's origin: scheme, host and port of the gateway's pages."""
        default = f"{self.http_scheme}://{self.http_host}:{self.http_port}"
        return (self.card_agent_origin or default).rstrip("/")

    @property
    def effective_regimes_url(self) -> str:
        return (
            self.regimes_url or f"{self.sandbox_scheme}://{self.sandbox_host}:{self.sandbox_port}"
        )

    @property
    def effective_psc_issuer(self) -> str:
        """Pro Santé Connect for the portal: the embedded sandbox's look-alike by default."""
        default = f"http://{self.sandbox_host}:{self.sandbox_psc_port}"
        return (self.portal_psc_issuer or default).rstrip("/")

    @property
    def effective_portal_session_key_file(self) -> Path:
        return self.portal_session_key_file or self.data_dir / "portal-session.key"

    @property
    def sandbox_scheme(self) -> str:
        return "http" if self.sandbox_tls_cert_file is None else "https"

    @property
    def uses_embedded_sandbox(self) -> bool:
        return self.regimes_url is None


def check_destination(destination: str) -> None:
    """A result destination: ``host:port`` of an MLLP receiver or the base URL of a FHIR server."""
    if destination.startswith(("http://", "https://")):
        if not _is_http_url(destination):
            raise ValueError(f"{destination!r} is not a URL with a host")
        return
    mllp_address(destination)


def mllp_address(destination: str) -> tuple[str, int]:
    """Host and port of the MLLP receiver ``destination`` (``host:port``, ``[::1]:port``)."""
    host, sep, port = destination.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{destination!r} is not host:port (port 1-65535) of an MLLP receiver "
            "nor an http(s):// URL"
        )
    return host.strip("[]"), int(port)


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises on a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_ipv6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip("[]")).version == 6
    except ValueError:
        return False


def _is_json_valued(annotation: Any) -> bool:
    """Lists, dicts and models are written as JSON in an environment variable."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_json_valued(arg) for arg in typing.get_args(annotation))
    if origin in (list, dict, tuple, set, frozenset):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
