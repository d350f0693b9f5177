"""The portal's session: who is logged in, when they were last seen (idle timeout) and the
CSRF token of their forms. The cookie itself is Starlette's ``SessionMiddleware`` (signed with
itsdangerous, HttpOnly, SameSite=Lax, Secure over HTTPS)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from fhir_server.portal.professional import Professional

__all__ = [
    "SessionState",
    "check_csrf",
    "csrf_token",
    "log_in",
    "log_out",
    "remember_terms",
    "session_state",
]

_USER = "user"
_SEEN = "seen"
_CSRF = "csrf"
_TERMS = "terms"  # the CGU version this user accepted, once checked in the store


@dataclass(frozen=True, slots=True)
class SessionState:
    user: Professional | None
    expired: bool  # there was a user, idle for too long: logged out now
    terms_version: str | None


def csrf_token(request: Request) -> str:
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = request.session[_CSRF] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, form: Mapping[str, str]) -> bool:
    expected = request.session.get(_CSRF)
    given = form.get("csrf", "")
    return isinstance(expected, str) and secrets.compare_digest(expected, given)


def session_state(request: Request, now: float, idle_timeout_s: int) -> SessionState:
    """Who is logged in; a session idle longer than ``idle_timeout_s`` is ended here."""
    user = Professional.from_session(request.session.get(_USER))
    if user is None:
        return SessionState(None, False, None)
    seen = request.session.get(_SEEN)
    if not isinstance(seen, int | float) or now - seen > idle_timeout_s:
        log_out(request)
        return SessionState(None, True, None)
    request.session[_SEEN] = int(now)
    terms = request.session.get(_TERMS)
    return SessionState(user, False, terms if isinstance(terms, str) else None)


def log_in(request: Request, user: Professional, now: float) -> None:
    # A new session on login: nothing of the anonymous one (a planted CSRF token, an OIDC
    # state) survives into the authenticated one.
    request.session.clear()
    request.session[_USER] = user.to_session()
    request.session[_SEEN] = int(now)
    request.session[_CSRF] = secrets.token_urlsafe(24)


def remember_terms(request: Request, version: str) -> None:
    request.session[_TERMS] = version


def log_out(request: Request) -> None:
    request.session.clear()
