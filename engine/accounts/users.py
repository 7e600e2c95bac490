"""People who sign in: users with a role, argon2-hashed passwords, sessions that expire, lock-out.

A session is a random secret handed to the browser once; only its SHA-256 is stored (like API
tokens, it is long and random, so no slow hash is needed). Passwords are argon2id-hashed.

Removing a user is a soft delete: the row stays so that what journeys, versions and the audit
log say about its author (they name people by text, e.g. their email) keeps meaning something;
the removed user cannot sign in, every session of theirs ends, and their email may be given to a
new account.

Functions take the caller's session and leave committing to it, with one exception: a failed
sign-in commits its count before raising ``SignInError``, so the caller's rollback cannot undo it.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from engine.accounts.access import AccessDeniedError
from engine.store import EMAIL_LENGTH, NAME_LENGTH, Role, User, UserSession, audit, utc_now

SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(days=7)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN = 12
# argon2 takes any length; the cap only keeps a pasted novel from being hashed on every attempt.
PASSWORD_MAX = 1024
# Sliding a session writes a row; once a minute is precise enough for an 8-hour idle limit.
SEEN_EVERY = timedelta(minutes=1)

WRONG_CREDENTIALS = "wrong email or password"

_EMAIL = re.compile(r"[^@\s]+@[^@\s.][^@\s]*")
# argon2id with the library's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes).
_hasher = PasswordHasher()


class SignInError(AccessDeniedError):
    """A refused sign-in; the message is what the person signing in is told."""


class AccountError(ValueError):
    """Input that cannot be accepted; the message starts with the field it concerns."""


@dataclass(frozen=True)
class Identity:
    user_id: int
    email: str
    name: str
    role: Role


@dataclass(frozen=True)
class UserSummary:
    id: int
    email: str
    name: str
    role: Role
    created_at: datetime
    last_sign_in_at: datetime | None
    locked_until: datetime | None


# --- values ----------------------------------------------------------------------------------------


def _email(text: str) -> str:
    address = text.strip().lower()
    if len(address) > EMAIL_LENGTH:
        raise AccountError(f"email: at most {EMAIL_LENGTH} characters")
    if not _EMAIL.fullmatch(address):
        raise AccountError("email: not an email address")
    return address


def _name(text: str) -> str:
    name = text.strip()
    if len(name) > NAME_LENGTH:
        raise AccountError(f"name: at most {NAME_LENGTH} characters")
    return name


def _password_hash(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"password: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"password: at most {PASSWORD_MAX} characters")
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _unknown_user_hash() -> str:
    """A hash no password matches, checked for unknown emails so they cost the same argon2 work."""
    return _hasher.hash(secrets.token_urlsafe(32))


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _identity(user: User) -> Identity:
    assert user.id is not None
    return Identity(user_id=user.id, email=user.email, name=user.name, role=user.role)


# --- queries -----------------------------------------------------------------------------------------


def _active_user(session: Session, user_id: int) -> User:
    # populate_existing: the row may have changed through a bulk UPDATE since the session loaded it.
    user = session.exec(
        select(User).where(User.id == user_id, col(User.removed_at).is_(None)).execution_options(populate_existing=True)
    ).first()
    if user is None:
        raise AccountError(f"user_id: there is no user with id {user_id}")
    return user


def _other_admins(session: Session, user: User) -> int:
    """Admins besides ``user``, with every admin row locked (on PostgreSQL) until the transaction ends.

    Locking all of them, in id order, makes two admins demoting each other at once take turns: the
    second then sees the first's change and is refused instead of leaving nobody in charge.
    """
    admins = session.exec(
        select(User.id)
        .where(User.role == Role.ADMIN, col(User.removed_at).is_(None))
        .order_by(col(User.id))
        .with_for_update()
    ).all()
    return sum(admin_id != user.id for admin_id in admins)


def _end_sessions(session: Session, user_id: int, now: datetime, *, keep_secret: str | None = None) -> None:
    query = update(UserSession).where(col(UserSession.user_id) == user_id, col(UserSession.ended_at).is_(None))
    if keep_secret is not None:
        query = query.where(col(UserSession.secret_hash) != _secret_hash(keep_secret))
    session.execute(query.values(ended_at=now))


def has_users(*, session: Session) -> bool:
    return session.exec(select(User.id).where(col(User.removed_at).is_(None)).limit(1)).first() is not None


def list_users(*, session: Session) -> list[UserSummary]:
    """The users not removed, by email."""
    users = session.exec(
        select(User)
        .where(col(User.removed_at).is_(None))
        .order_by(col(User.email))
        .execution_options(populate_existing=True)
    )
    return [
        UserSummary(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            locked_until=user.locked_until,
        )
        for user in users
        if user.id is not None
    ]


# --- administration ----------------------------------------------------------------------------------


def create_user(*, session: Session, email: str, password: str, role: Role, name: str = "", actor: str) -> Identity:
    address = _email(email)
    shown_name = _name(name)
    taken = session.exec(select(User.id).where(User.email == address, col(User.removed_at).is_(None))).first()
    if taken is not None:
        raise AccountError("email: another user has this address")
    user = User(email=address, name=shown_name, role=role, password_hash=_password_hash(password))
    session.add(user)
    session.flush()
    assert user.id is not None
    audit.record(session=session, actor=actor, action="user.create", user_id=user.id, email=address, role=role.value)
    return _identity(user)


def set_role(*, session: Session, user_id: int, role: Role, actor: str) -> None:
    user = _active_user(session, user_id)
    if user.role == role:
        return
    if user.role == Role.ADMIN and _other_admins(session, user) == 0:
        raise AccountError(f"role: {user.email} is the last admin; make someone else an admin first")
    previous = user.role
    user.role = role
    session.add(user)
    audit.record(
        session=session,
        actor=actor,
        action="user.role",
        user_id=user_id,
        email=user.email,
        previous=previous.value,
        role=role.value,
    )


def remove_user(*, session: Session, user_id: int, actor: str) -> None:
    user = _active_user(session, user_id)
    if user.role == Role.ADMIN and _other_admins(session, user) == 0:
        raise AccountError(f"user_id: {user.email} is the last admin; make someone else an admin first")
    now = utc_now()
    user.removed_at = now
    session.add(user)
    _end_sessions(session, user_id, now)
    audit.record(session=session, actor=actor, action="user.remove", user_id=user_id, email=user.email)


def change_password(
    *, session: Session, user_id: int, password: str, actor: str, keep_secret: str | None = None
) -> None:
    """Set a new password, lift any lock-out and end the user's sessions but ``keep_secret``'s.

    Ending the sessions is what makes a reset after a leaked password effective; the one a user
    changes their own password from may stay open.
    """
    user = _active_user(session, user_id)
    user.password_hash = _password_hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.add(user)
    _end_sessions(session, user_id, utc_now(), keep_secret=keep_secret)
    audit.record(session=session, actor=actor, action="user.password", user_id=user_id, email=user.email)


# --- signing in and out ------------------------------------------------------------------------------


def _locked_message(left: timedelta) -> str:
    minutes = max(1, math.ceil(left / timedelta(minutes=1)))
    return f"too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}"


def _count_failure(session: Session, user_id: int, now: datetime) -> str:
    """Count a failed sign-in, lock the account at the limit, commit (see the module's notes); the refusal."""
    # One UPDATE: concurrent failures each count, where reading then writing the count could lose some.
    failures = session.execute(
        update(User)
        .where(col(User.id) == user_id)
        .values(failed_sign_ins=col(User.failed_sign_ins) + 1)
        .returning(col(User.failed_sign_ins))
    ).scalar_one()
    locked = failures >= MAX_FAILURES
    if locked:
        # The count starts over, so after the lock-out the account again has MAX_FAILURES tries.
        session.execute(
            update(User).where(col(User.id) == user_id).values(failed_sign_ins=0, locked_until=now + LOCKOUT)
        )
    session.commit()
    return _locked_message(LOCKOUT) if locked else WRONG_CREDENTIALS


def sign_in(*, session: Session, email: str, password: str, now: datetime | None = None) -> tuple[Identity, str]:
    """Check the email and password and open a session: its secret is returned once and stored hashed."""
    now = now or utc_now()
    user = session.exec(
        select(User)
        .where(User.email == email.strip().lower(), col(User.removed_at).is_(None))
        .execution_options(populate_existing=True)
    ).first()
    if user is None:
        _password_matches(_unknown_user_hash(), password)
        raise SignInError(WRONG_CREDENTIALS)
    assert user.id is not None
    if user.locked_until is not None and now < user.locked_until:
        raise SignInError(_locked_message(user.locked_until - now))
    if not _password_matches(user.password_hash, password):
        raise SignInError(_count_failure(session, user.id, now))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now
    session.add(user)
    secret = "js_" + secrets.token_urlsafe(32)
    session.add(UserSession(secret_hash=_secret_hash(secret), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return _identity(user), secret


def identity_for(*, session: Session, secret: str, now: datetime | None = None) -> Identity | None:
    """Who holds this session secret, or None when the session is unknown, ended, expired or its user removed."""
    if not secret:
        return None
    now = now or utc_now()
    row = session.exec(
        select(UserSession, User)
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(UserSession.secret_hash == _secret_hash(secret))
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None
    user_session, user = row
    if (
        user_session.ended_at is not None
        or user.removed_at is not None
        or now - user_session.last_seen_at > SESSION_IDLE
        or now - user_session.created_at > SESSION_MAX
    ):
        return None
    if now - user_session.last_seen_at >= SEEN_EVERY:
        user_session.last_seen_at = now
        session.add(user_session)
    return _identity(user)


def sign_out(*, session: Session, secret: str) -> None:
    """End the session; an unknown or already ended one is left as it is."""
    session.execute(
        update(UserSession)
        .where(col(UserSession.secret_hash) == _secret_hash(secret), col(UserSession.ended_at).is_(None))
        .values(ended_at=utc_now())
    )
