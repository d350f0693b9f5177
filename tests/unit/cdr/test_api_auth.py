"""The wiring of the API's authentication: nothing at all when it is off; when on, every FHIR
route the app serves is an interaction some scope grants (none slips through unchecked)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from cdr.api_auth import build_api_auth
from cdr.bootstrap import build_gateway, build_http_app
from cdr.settings import Settings
from fhir_server.auth import AuthEndpoints, BearerGuard, CertificateClients, LoopbackOnly
from fhir_server.auth.access import interaction_of, needs_token
from tests.tls import make_pki


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg, arg-type]


def test_with_auth_off_no_middleware_is_installed(tmp_path: Path) -> None:
    off = settings(tmp_path)
    gateway = build_gateway(off)
    try:
        assert build_api_auth(off, gateway.database.engine) is None
        app = build_http_app(gateway, tune_gc=False)
        assert not {m.cls for m in app.user_middleware} & {
            AuthEndpoints,
            BearerGuard,
            LoopbackOnly,
        }
        assert not (tmp_path / "auth-token-key.pem").exists()
    finally:
        gateway.database.dispose()


def test_with_auth_on_every_fhir_route_is_guarded_and_classified(tmp_path: Path) -> None:
    on = settings(tmp_path, auth="on")
    gateway = build_gateway(on)
    try:
        app = build_http_app(gateway, tune_gc=False)
        classes = [m.cls for m in app.user_middleware]
        assert AuthEndpoints in classes and BearerGuard in classes
        key = tmp_path / "auth-token-key.pem"
        assert key.stat().st_mode & 0o777 == 0o600
        routes = [r for r in app.routes if isinstance(r, Route) and r.path.startswith("/fhir")]
        assert routes
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "Coverage", route.path)  # a path the route matches
            if not needs_token(path):
                assert route.path == "/fhir/metadata"
                continue
            for method in route.methods or ():
                assert interaction_of(method, path) is not None, (method, route.path)
    finally:
        gateway.database.dispose()


def test_with_auth_on_metrics_stay_on_loopback_unless_allowed_open(tmp_path: Path) -> None:
    for allow_open, expected in ((False, True), (True, False)):
        on = settings(tmp_path / str(allow_open), auth="on", allow_open=allow_open)
        gateway = build_gateway(on)
        try:
            app = build_http_app(gateway, tune_gc=False)
            assert (LoopbackOnly in [m.cls for m in app.user_middleware]) is expected
        finally:
            gateway.database.dispose()


def test_certificates_are_looked_up_only_where_the_api_asks_for_them(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    https = {"http_tls_cert_file": pki.server_cert, "http_tls_key_file": pki.server_key}
    for extra, asked in (({}, False), ({"http_tls_client_ca_file": pki.ca}, True)):
        on = settings(tmp_path / str(asked), auth="on", **https, **extra)
        gateway = build_gateway(on)
        try:
            wired = build_api_auth(on, gateway.database.engine)
            assert wired is not None
            [guard] = [m for m in wired.middleware if m.cls is BearerGuard]
            assert isinstance(guard.kwargs["certificates"], CertificateClients) is asked
        finally:
            gateway.database.dispose()
