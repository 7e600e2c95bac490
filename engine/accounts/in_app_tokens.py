"""Customer tokens for the in-app inbox: who the customer is, signed with the workspace's secret.

The customer's app never holds the secret or the write key. Their own backend, which knows who is signed in, signs
a short-lived token for that user id with the secret (``journey inapp secret`` shows it), and the app sends that
token with every inbox call; as with Intercom's or Braze's identity verification, a customer can then read only
their own inbox. The token is a standard JWT (HS256, claims ``sub`` = the user id and ``exp`` = when it ends, in
seconds since the epoch), so any JWT library mints one; ``mint_token`` is the Python one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from engine.store import USER_ID_LENGTH, audit, current_in_app_secret, new_in_app_secret, utc_now

#: What ``journey inapp token`` mints when not told otherwise: long enough for a page view, short for a leak.
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)
_HEADER = {"alg": "HS256", "typ": "JWT"}
# A token longer than this is refused unread: a user id of at most USER_ID_LENGTH and two numbers fit many times.
MAX_TOKEN_LENGTH = 2048
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class TokenError(ValueError):
    """A token that names nobody: malformed, forged, expired, or made before the secret was rotated."""


def _encode(part: bytes) -> str:
    return base64.urlsafe_b64encode(part).rstrip(b"=").decode()


def _decode(part: str) -> bytes:
    if not _BASE64URL.fullmatch(part):
        raise TokenError("the token is not a JWT (base64url parts)")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as error:
        raise TokenError("the token is not a JWT (base64url parts)") from error


def _signature(secret: str, signed: str) -> str:
    return _encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest())


def mint_token(
    secret: str, user_id: str, *, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME, now: datetime | None = None
) -> str:
    """A token for ``user_id`` that ends ``lifetime`` from now, signed with ``secret``."""
    if not user_id or len(user_id) > USER_ID_LENGTH:
        raise ValueError(f"a user id has 1 to {USER_ID_LENGTH} characters, got {len(user_id)}")
    issued = now or utc_now()
    claims = {"sub": user_id, "iat": int(issued.timestamp()), "exp": int((issued + lifetime).timestamp())}
    signed = f"{_encode(json.dumps(_HEADER).encode())}.{_encode(json.dumps(claims).encode())}"
    return f"{signed}.{_signature(secret, signed)}"


def _json_part(part: str, what: str) -> dict[str, Any]:
    raw = _decode(part)
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise TokenError(f"the token's {what} is not JSON") from error
    if not isinstance(value, dict):
        raise TokenError(f"the token's {what} is not a JSON object")
    return value


def user_of_token(secret: str, token: str, *, now: datetime | None = None) -> str:
    """The user id a valid token names; ``TokenError`` says why a token is refused."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a JWT (three parts separated by dots)")
    header = _json_part(parts[0], "header")
    # Only HS256: a token naming another algorithm ("none", or RS256 with the secret as a public key) is refused
    # before anything else is read from it.
    if header.get("alg") != "HS256":
        raise TokenError("the token must be signed with HS256")
    if not hmac.compare_digest(_signature(secret, f"{parts[0]}.{parts[1]}"), parts[2]):
        raise TokenError("the token's signature does not match: it was not signed with this workspace's secret")
    claims = _json_part(parts[1], "claims")
    subject, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not 0 < len(subject) <= USER_ID_LENGTH:
        raise TokenError(f"the token's sub must be the customer's user id (1 to {USER_ID_LENGTH} characters)")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise TokenError("the token has no exp (when it ends, in seconds since 1970)")
    if expires <= (now or utc_now()).timestamp():
        raise TokenError("the token has expired: ask the app's backend for a new one")
    return subject


def verify_customer_token(*, session: Session, token: str, now: datetime | None = None) -> str:
    """The user id of a token signed with the workspace's current secret."""
    secret = current_in_app_secret(session)
    if secret is None:
        raise TokenError("in-app messages are not set up: an admin makes the secret with `journey inapp secret`")
    return user_of_token(secret, token, now=now)


def in_app_secret(*, session: Session, actor: str, rotate: bool = False) -> tuple[str, bool]:
    """The workspace's secret, made when there is none or when ``rotate`` (audited); and whether it is new."""
    current = current_in_app_secret(session)
    if current is not None and not rotate:
        return current, False
    secret = new_in_app_secret(session)
    audit.record(session=session, actor=actor, action="in_app_secret.rotate" if current else "in_app_secret.create")
    return secret, True
