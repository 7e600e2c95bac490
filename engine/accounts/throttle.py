"""The sign-in throttle: failed attempts lock out the client that made them, never the account.

Two counts, both over the failures of the last ``ATTEMPTS_KEPT`` (24 hours):

- one client at one email: ``MAX_FAILURES`` failures in a row lock that client out of that email for
  ``LOCKOUT``; each further failure, once a lock has run out, locks it twice as long as the one before,
  up to ``LONGEST_LOCKOUT``. A success from that client at that email starts the count over;
- one client at any email: ``CLIENT_MAX_FAILURES`` failures lock the client out of every account,
  growing the same way. Successes do not start this count over, so an account of one's own does not
  buy more guesses at others'.

A client is the address the request came from. The owner of an account signs in from their own address
whatever an attacker does from another; an attacker cannot lock anyone out but themselves (and whoever
shares their address). A refusal is the same whether the email is unknown, the password wrong or the
client locked out (see ``users.sign_in``), and attempts while locked out are not counted, so retrying
does not lengthen a lock.

An attempt is written and committed before its password is checked, then counts the client's other
attempts: of guesses sent all at once, each one committed after the limit's worth sees enough others to be
refused, so no more than the limit reach the password check (a few racing at the limit may all be refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from engine.store import (
    ATTEMPTS_KEPT,
    SignInAttempt,
    attempts_for,
    email_hash,
    forget_attempts,
    other_attempts,
    record_attempt,
)

MAX_FAILURES = 5
CLIENT_MAX_FAILURES = 50
LOCKOUT = timedelta(minutes=15)
LONGEST_LOCKOUT = ATTEMPTS_KEPT
# Who calls sign_in without a client address (the command line, tests) shares this one.
UNKNOWN_CLIENT = "unknown"


def locked_until(failures: Sequence[datetime], limit: int) -> datetime | None:
    """Until when ``failures`` (of one count) lock it out, or None below ``limit``."""
    if len(failures) < limit:
        return None
    # Past 2**7 times LOCKOUT the cap applies anyway; the exponent is bounded so the product stays small.
    doublings = min(len(failures) - limit, 7)
    return max(failures) + min(LOCKOUT * (1 << doublings), LONGEST_LOCKOUT)


def admit(*, session: Session, client: str, email: str, now: datetime) -> SignInAttempt | None:
    """Record an attempt and commit it (the caller's transaction with it): the attempt, or None when the
    client is locked out, at this email or everywhere, in which case nothing is kept."""
    attempt = record_attempt(session=session, client=client or UNKNOWN_CLIENT, email=email, at=now)
    # Committed before counting: of two racing attempts, the one that commits second then counts the first.
    session.commit()
    others = other_attempts(session=session, attempt=attempt)
    address = email_hash(email)
    held = (
        locked_until([at for hashed, at in others if hashed == address], MAX_FAILURES),
        locked_until([at for _, at in others], CLIENT_MAX_FAILURES),
    )
    if any(until is not None and now < until for until in held):
        session.delete(attempt)
        session.commit()
        return None
    return attempt


def succeeded(*, session: Session, attempt: SignInAttempt, email: str) -> None:
    """The attempt succeeded: forget this client's failures at this email (in the caller's transaction)."""
    forget_attempts(session=session, email=email, client=attempt.client)


def forget_email(*, session: Session, email: str) -> None:
    """Lift every client's lock on ``email`` (a new password was set)."""
    forget_attempts(session=session, email=email)


def locked_emails(*, session: Session, emails: Iterable[str], now: datetime) -> dict[str, datetime]:
    """For each of ``emails`` that some client is locked out of now, until when the longest such lock lasts."""
    by_hash = {email_hash(email): email for email in emails}
    failures: dict[tuple[str, str], list[datetime]] = {}
    for hashed, client, at in attempts_for(session=session, emails=by_hash.values(), since=now - ATTEMPTS_KEPT):
        failures.setdefault((hashed, client), []).append(at)
    found: dict[str, datetime] = {}
    for (hashed, _), times in failures.items():
        until = locked_until(times, MAX_FAILURES)
        if until is not None and until > now:
            email = by_hash[hashed]
            found[email] = max(until, found.get(email, until))
    return found
