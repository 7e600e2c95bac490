"""Ingestion write keys and API bearer tokens: created once, shown once, stored as hashes.

The secrets are long random strings, so a fast hash (SHA-256) is enough to store them: unlike
passwords they cannot be guessed from a dictionary, and every API request checks one. Creating and
revoking them is written to the audit log; lists show a secret's first characters, never the rest.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from engine.store import ApiToken, Role, WriteKey, audit, utc_now

# Who the audit log names when a caller does not say (scripts and tests that predate the actor).
SYSTEM_ACTOR = "system"


class AccessDeniedError(PermissionError):
    """A secret that is unknown or revoked, or a role that may not do this."""


class SecretNotFoundError(LookupError):
    """No write key or API token has this id."""


@dataclass(frozen=True)
class IssuedSecret:
    """A new secret: ``secret`` is shown once and never stored."""

    id: int
    name: str
    secret: str


@dataclass(frozen=True)
class SecretSummary:
    """What an admin sees of a write key or API token: never the secret, only its first characters."""

    id: int
    name: str
    prefix: str
    role: str | None  # None for write keys, which have no role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None  # None for write keys: intake does not write per request


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_write_key(*, session: Session, name: str, actor: str = SYSTEM_ACTOR) -> IssuedSecret:
    secret = "wk_" + secrets.token_urlsafe(24)
    key = WriteKey(name=name, prefix=secret[:8], key_hash=_hash(secret))
    session.add(key)
    session.flush()
    assert key.id is not None
    audit.record(session=session, actor=actor, action="key.create", key_id=key.id, name=name, prefix=key.prefix)
    return IssuedSecret(id=key.id, name=name, secret=secret)


def verify_write_key(*, session: Session, secret: str) -> WriteKey:
    key = session.exec(select(WriteKey).where(col(WriteKey.key_hash) == _hash(secret))).first()
    if key is None or key.revoked_at is not None:
        raise AccessDeniedError("unknown or revoked write key")
    return key


def write_key_refusal(*, session: Session, secret: str) -> AccessDeniedError | None:
    """Why the write key may not be used (unknown or revoked), or None when it may."""
    try:
        verify_write_key(session=session, secret=secret)
    except AccessDeniedError as refused:
        return refused
    return None


def _key_summary(key: WriteKey) -> SecretSummary:
    assert key.id is not None
    return SecretSummary(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=None,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=None,
    )


def revoke_write_key(
    *, session: Session, key_id: int, now: datetime | None = None, actor: str = SYSTEM_ACTOR
) -> SecretSummary:
    """Revoke a write key; revoking it again changes nothing. Raises ``SecretNotFoundError`` for an unknown id."""
    key = session.get(WriteKey, key_id)
    if key is None:
        raise SecretNotFoundError(f"there is no write key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = now or utc_now()
        session.add(key)
        audit.record(session=session, actor=actor, action="key.revoke", key_id=key_id, name=key.name, prefix=key.prefix)
    return _key_summary(key)


def list_write_keys(*, session: Session) -> list[SecretSummary]:
    """Every write key, revoked ones too, newest first."""
    keys = session.exec(select(WriteKey).order_by(col(WriteKey.created_at).desc(), col(WriteKey.id).desc()))
    return [_key_summary(key) for key in keys]


def create_api_token(*, session: Session, name: str, role: Role, actor: str = SYSTEM_ACTOR) -> IssuedSecret:
    secret = "jb_" + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role.value, prefix=secret[:8], token_hash=_hash(secret))
    session.add(token)
    session.flush()
    assert token.id is not None
    audit.record(
        session=session,
        actor=actor,
        action="token.create",
        token_id=token.id,
        name=name,
        prefix=token.prefix,
        role=role.value,
    )
    return IssuedSecret(id=token.id, name=name, secret=secret)


def verify_api_token(*, session: Session, secret: str, now: datetime | None = None) -> ApiToken:
    token = session.exec(select(ApiToken).where(col(ApiToken.token_hash) == _hash(secret))).first()
    if token is None or token.revoked_at is not None:
        raise AccessDeniedError("unknown or revoked API token")
    token.last_used_at = now or utc_now()
    session.add(token)
    return token


def _token_summary(token: ApiToken) -> SecretSummary:
    assert token.id is not None
    return SecretSummary(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        role=token.role,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
    )


def revoke_api_token(
    *, session: Session, token_id: int, now: datetime | None = None, actor: str = SYSTEM_ACTOR
) -> SecretSummary:
    """Revoke an API token; revoking it again changes nothing. Raises ``SecretNotFoundError`` for an unknown id."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise SecretNotFoundError(f"there is no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = now or utc_now()
        session.add(token)
        audit.record(
            session=session,
            actor=actor,
            action="token.revoke",
            token_id=token_id,
            name=token.name,
            prefix=token.prefix,
            role=token.role,
        )
    return _token_summary(token)


def list_api_tokens(*, session: Session) -> list[SecretSummary]:
    """Every API token, revoked ones too, newest first."""
    tokens = session.exec(select(ApiToken).order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc()))
    return [_token_summary(token) for token in tokens]
