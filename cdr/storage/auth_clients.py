"""The API's clients on SQL (``ClientRegistry``), and the ids of their assertions already used
(``AssertionIds``): one table each, shared by every process of the gateway."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from sqlalchemy import Engine, Row, delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cdr.storage.inbox import from_db, to_utc
from cdr.storage.tables import auth_assertion_ids, auth_clients
from cdr.storage.transactions import is_busy, storage_error, storage_errors
from fhir_server.auth import RegisteredClient

__all__ = ["SqlAssertionIds", "SqlClientRegistry"]


class SqlClientRegistry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, name: str) -> RegisteredClient | None:
        with storage_errors("read the API clients"), self._engine.connect() as connection:
            row = connection.execute(
                select(auth_clients).where(auth_clients.c.name == name)
            ).first()
        return None if row is None else _client(row)

    def by_certificate(self, thumbprint: str) -> RegisteredClient | None:
        with storage_errors("read the API clients"), self._engine.connect() as connection:
            row = connection.execute(
                select(auth_clients).where(auth_clients.c.cert_thumbprint == thumbprint)
            ).first()
        return None if row is None else _client(row)

    def all(self) -> list[RegisteredClient]:
        with storage_errors("read the API clients"), self._engine.connect() as connection:
            rows = connection.execute(select(auth_clients).order_by(auth_clients.c.name)).all()
        return [_client(row) for row in rows]

    def add(self, client: RegisteredClient) -> bool:
        """Registers ``client``; False when a client of that name, or with that certificate,
        exists (it is kept as is)."""
        row = {
            "name": client.name,
            "jwks": client.jwks,
            "jwks_url": client.jwks_url,
            "scopes": " ".join(client.scopes),
            "created_at": to_utc(client.created_at),
            "cert_thumbprint": client.certificate_thumbprint,
            "cert_subject": client.certificate_subject,
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(auth_clients).values(row))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise storage_error("register the API client", exc) from exc
        return True

    def remove(self, name: str) -> bool:
        """False when no client has that name."""
        with storage_errors("remove the API client"), self._engine.begin() as connection:
            removed = connection.execute(delete(auth_clients).where(auth_clients.c.name == name))
        return removed.rowcount > 0


class SqlAssertionIds:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_use(self, client: str, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        # The primary key (client, jti) decides between two processes given the same
        # assertion at once: one insert commits, the other meets the duplicate key.
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(auth_assertion_ids).values(
                        client=client, jti=jti, expires_at=to_utc(expires_at)
                    )
                )
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise storage_error("remember the client assertion", exc) from exc
        self._forget_expired(now)
        return True

    def _forget_expired(self, now: datetime) -> None:
        """Ids past their assertion's expiry: such an assertion is refused for its ``exp``
        anyway. Best effort: another process purging at the same time is as good."""
        expired = auth_assertion_ids.c.expires_at < to_utc(now)
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(auth_assertion_ids).where(expired))
        except (SQLAlchemyError, sqlite3.Error) as exc:
            if not is_busy(exc):
                raise storage_error("forget expired client assertions", exc) from exc


def _client(row: Row[tuple[object, ...]]) -> RegisteredClient:
    values = row._mapping
    return RegisteredClient(
        name=str(values["name"]),
        scopes=tuple(str(values["scopes"]).split()),
        created_at=from_db(values["created_at"]),
        jwks=values["jwks"],
        jwks_url=values["jwks_url"],
        certificate_thumbprint=values["cert_thumbprint"],
        certificate_subject=values["cert_subject"],
    )
