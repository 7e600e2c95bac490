"""Failed sign-in attempts, by client address and email, for the sign-in throttle (``engine.accounts``).

A row is one attempt that did not (or not yet) succeed. The email is kept only as a SHA-256 of its
normalised text: people type passwords into the email field, and the throttle only needs to tell one
address from another. Rows older than ``ATTEMPTS_KEPT`` no longer count and the engine's purge deletes
them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Index, delete
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.db import UtcDateTime

ATTEMPTS_KEPT = timedelta(hours=24)
# An IPv6 address with a zone is at most 45 + a zone name; longer text is not an address.
CLIENT_LENGTH = 64


class SignInAttempt(SQLModel, table=True):
    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_client_at", "client", "at"),
        Index("ix_sign_in_attempt_email_client", "email_hash", "client"),
        Index("ix_sign_in_attempt_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=CLIENT_LENGTH)
    email_hash: str = Field(max_length=64)
    at: datetime = Field(sa_type=UtcDateTime)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def record_attempt(*, session: Session, client: str, email: str, at: datetime) -> SignInAttempt:
    attempt = SignInAttempt(client=client[:CLIENT_LENGTH], email_hash=email_hash(email), at=at)
    session.add(attempt)
    session.flush()
    return attempt


def other_attempts(*, session: Session, attempt: SignInAttempt) -> Sequence[tuple[str, datetime]]:
    """(email hash, time) of the same client's other attempts still counted at ``attempt``'s time.

    Those made at the same moment are among them once committed: of two attempts racing, the one that
    commits second sees the first, whatever order their ids were drawn in.
    """
    return session.exec(
        select(SignInAttempt.email_hash, SignInAttempt.at).where(
            SignInAttempt.client == attempt.client,
            col(SignInAttempt.at) > attempt.at - ATTEMPTS_KEPT,
            col(SignInAttempt.id) != attempt.id,
        )
    ).all()


def attempts_for(*, session: Session, emails: Iterable[str], since: datetime) -> Sequence[tuple[str, str, datetime]]:
    """(email hash, client, time) of every attempt at any of ``emails`` since ``since``."""
    hashes = [email_hash(email) for email in emails]
    return session.exec(
        select(SignInAttempt.email_hash, SignInAttempt.client, SignInAttempt.at).where(
            col(SignInAttempt.email_hash).in_(hashes), col(SignInAttempt.at) > since
        )
    ).all()


def forget_attempts(*, session: Session, email: str, client: str | None = None) -> None:
    """Forget the attempts at ``email``: those of one client, or of every client."""
    statement = delete(SignInAttempt).where(col(SignInAttempt.email_hash) == email_hash(email))
    if client is not None:
        statement = statement.where(col(SignInAttempt.client) == client[:CLIENT_LENGTH])
    session.exec(statement)


def purge_sign_in_attempts(*, session: Session, now: datetime) -> int:
    """Delete the attempts that no longer count; how many went."""
    return session.exec(delete(SignInAttempt).where(col(SignInAttempt.at) <= now - ATTEMPTS_KEPT)).rowcount
