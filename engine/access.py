"""Ingestion write keys and API bearer tokens: created once, shown once, stored as hashes.

The secrets are long random strings, so a fast hash (SHA-256) is enough to store them: unlike
passwords they cannot be guessed from a dictionary, and every API request checks one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col, select

from engine.store.db import utc_now
from engine.store.keys import ApiToken, WriteKey


class Role(StrEnum):
    DESIGNER = "designer"
    MARKETER = "marketer"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class AccessDeniedError(PermissionError):
    """A secret that is unknown or revoked, or a role that may not do this."""


@dataclass(frozen=True)
class IssuedSecret:
    """A new secret: ``secret`` is shown once and never stored."""

    id: int
    name: str
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_write_key(*, session: Session, name: str) -> IssuedSecret:
    secret = "wk_" + secrets.token_urlsafe(24)
    key = WriteKey(name=name, prefix=secret[:8], key_hash=_hash(secret))
    session.add(key)
    session.flush()
    assert key.id is not None
    return IssuedSecret(id=key.id, name=name, secret=secret)


def verify_write_key(*, session: Session, secret: str) -> WriteKey:
    key = session.exec(select(WriteKey).where(col(WriteKey.key_hash) == _hash(secret))).first()
    if key is None or key.revoked_at is not None:
        raise AccessDeniedError("unknown or revoked write key")
    return key


def revoke_write_key(*, session: Session, key_id: int, now: datetime | None = None) -> None:
    session.execute(update(WriteKey).where(col(WriteKey.id) == key_id).values(revoked_at=now or utc_now()))


def create_api_token(*, session: Session, name: str, role: Role) -> IssuedSecret:
    secret = "jb_" + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role.value, prefix=secret[:8], token_hash=_hash(secret))
    session.add(token)
    session.flush()
    assert token.id is not None
    return IssuedSecret(id=token.id, name=name, secret=secret)


def verify_api_token(*, session: Session, secret: str, now: datetime | None = None) -> ApiToken:
    token = session.exec(select(ApiToken).where(col(ApiToken.token_hash) == _hash(secret))).first()
    if token is None or token.revoked_at is not None:
        raise AccessDeniedError("unknown or revoked API token")
    token.last_used_at = now or utc_now()
    session.add(token)
    return token


def revoke_api_token(*, session: Session, token_id: int, now: datetime | None = None) -> None:
    session.execute(update(ApiToken).where(col(ApiToken.id) == token_id).values(revoked_at=now or utc_now()))
