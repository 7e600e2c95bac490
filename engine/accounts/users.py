"""People who sign in: users with a role, argon2-hashed passwords, sessions that expire, the sign-in throttle.

A session is a random secret handed to the browser once; only its SHA-256 is stored (like API
tokens, it is long and random, so no slow hash is needed). Passwords are argon2id-hashed. The web
app does not hand the secret to the page: it trades the session for a one-time code
(``issue_handoff``), which the browser takes to the backend, where ``redeem_handoff`` replaces the
secret with a new one that goes only into an HttpOnly cookie.

A sign-in is refused with one answer and one argon2 check whatever the reason (unknown email, wrong
password, client locked out), so neither the answer nor the time it takes tells which emails have
accounts. Failed attempts lock out the client that made them (``throttle``), not the account.

Removing a user is a soft delete: the row stays so that what journeys, versions and the audit
log say about its author (they name people by text, e.g. their email) keeps meaning something;
the removed user cannot sign in, every session of theirs ends, and their email may be given to a
new account.

Functions take the caller's session and leave committing to it, with one exception: a sign-in
commits its attempt before checking the password, so the caller's rollback cannot undo a failure
and guesses sent at once count against each other.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from engine.accounts import throttle
from engine.accounts.access import AccessDeniedError
from engine.store import EMAIL_LENGTH, NAME_LENGTH, SESSION_IDLE, SESSION_MAX, Role, User, UserSession, audit, utc_now

PASSWORD_MIN = 12
# argon2 takes any length; the cap only keeps a pasted novel from being hashed on every attempt.
PASSWORD_MAX = 1024
# Sliding a session writes a row; once a minute is precise enough for an 8-hour idle limit.
SEEN_EVERY = timedelta(minutes=1)
# Long enough for the browser's request to the backend right after signing in, and no longer.
HANDOFF_TTL = timedelta(minutes=1)

WRONG_CREDENTIALS = "email or password is wrong, or too many attempts: try again later"

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
    # Until when some client is locked out of this account (the longest such lock), or None.
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


def list_users(*, session: Session, now: datetime | None = None) -> list[UserSummary]:
    """The users not removed, by email."""
    users = session.exec(
        select(User)
        .where(col(User.removed_at).is_(None))
        .order_by(col(User.email))
        .execution_options(populate_existing=True)
    ).all()
    locks = throttle.locked_emails(session=session, emails=[user.email for user in users], now=now or utc_now())
    return [
        UserSummary(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            locked_until=locks.get(user.email),
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
    """Set a new password, lift every client's lock-out and end the user's sessions but ``keep_secret``'s.

    Ending the sessions is what makes a reset after a leaked password effective; the one a user
    changes their own password from may stay open.
    """
    user = _active_user(session, user_id)
    user.password_hash = _password_hash(password)
    session.add(user)
    throttle.forget_email(session=session, email=user.email)
    _end_sessions(session, user_id, utc_now(), keep_secret=keep_secret)
    audit.record(session=session, actor=actor, action="user.password", user_id=user_id, email=user.email)


# --- signing in and out ------------------------------------------------------------------------------


def sign_in(
    *,
    session: Session,
    email: str,
    password: str,
    client: str = throttle.UNKNOWN_CLIENT,
    now: datetime | None = None,
) -> tuple[Identity, str]:
    """Check the email and password from ``client`` (its address) and open a session: its secret is returned
    once and stored hashed. Commits the attempt first (see the module's notes)."""
    now = now or utc_now()
    address = email.strip().lower()
    attempt = throttle.admit(session=session, client=client, email=address, now=now)
    user = session.exec(
        select(User)
        .where(User.email == address, col(User.removed_at).is_(None))
        .execution_options(populate_existing=True)
    ).first()
    # Every refusal checks one argon2 hash, so an unknown email or a locked-out client costs what a wrong password does.
    if attempt is None or user is None:
        _password_matches(_unknown_user_hash(), password)
        raise SignInError(WRONG_CREDENTIALS)
    if not _password_matches(user.password_hash, password):
        raise SignInError(WRONG_CREDENTIALS)
    assert user.id is not None
    throttle.succeeded(session=session, attempt=attempt, email=address)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = now
    session.add(user)
    secret = _new_secret()
    session.add(UserSession(secret_hash=_secret_hash(secret), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return _identity(user), secret


def _new_secret() -> str:
    return "js_" + secrets.token_urlsafe(32)


def issue_handoff(*, session: Session, secret: str, now: datetime | None = None) -> str:
    """A one-time code, valid ``HANDOFF_TTL``, that ``redeem_handoff`` trades for the session of ``secret``."""
    code = "jc_" + secrets.token_urlsafe(32)
    until = (now or utc_now()) + HANDOFF_TTL
    session.execute(
        update(UserSession)
        .where(col(UserSession.secret_hash) == _secret_hash(secret))
        .values(handoff_hash=_secret_hash(code), handoff_until=until)
    )
    return code


def redeem_handoff(*, session: Session, code: str, now: datetime | None = None) -> str | None:
    """The session's new secret for a hand-over code, or None when the code is unknown, used or expired.

    The secret the code was issued for stops working: only the one returned here, which goes into the
    HttpOnly cookie, opens the session from now on. A code works once, even when two requests race.
    """
    secret = _new_secret()
    traded = session.execute(
        update(UserSession)
        .where(
            col(UserSession.handoff_hash) == _secret_hash(code),
            col(UserSession.handoff_until) > (now or utc_now()),
            col(UserSession.ended_at).is_(None),
        )
        .values(secret_hash=_secret_hash(secret), handoff_hash=None, handoff_until=None)
        .returning(col(UserSession.id))
    ).first()
    return secret if traded is not None else None


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
