"""Unsubscribe links: signed per customer and channel, so nobody can opt out someone else.

The signing key comes from JOURNEY_SECRET_KEY; on the embedded default without it, a key is
made once and kept in a file beside the database, so links stay valid across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import quote_plus

from sqlmodel import Session

from engine.map import Channel, MessageContent
from engine.store import PROJECT_ROOT, Profile, audit, utc_now

SECRET_FILE = PROJECT_ROOT / ".journey_secret"


class UnsubscribeError(ValueError):
    """A link that is malformed or whose signature does not match."""


@cache
def _secret() -> bytes:
    configured = os.environ.get("JOURNEY_SECRET_KEY")
    if configured:
        return configured.encode()
    path = Path(os.environ.get("JOURNEY_SECRET_FILE", SECRET_FILE))
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@cache
def _keyed() -> hmac.HMAC:
    # Copying a keyed HMAC skips deriving the key's pads for every link a send builds.
    return hmac.new(_secret(), digestmod=hashlib.sha256)


def _signature(profile_id: int, channel: str) -> str:
    signer = _keyed().copy()
    signer.update(f"{profile_id}:{channel}".encode())
    return signer.hexdigest()[:32]


def public_base_url() -> str:
    return os.environ.get("JOURNEY_PUBLIC_URL", "http://localhost:8000").rstrip("/")


def _quoted(value: object) -> str:
    # A whole number's digits (and sign) are characters quote_plus keeps as they are.
    return str(value) if type(value) is int else quote_plus(str(value))


@lru_cache(maxsize=64)
def _quoted_channel(name: str) -> str:
    return quote_plus(name)


@lru_cache(maxsize=4096)
def uses_unsubscribe(content: MessageContent) -> bool:
    """Whether ``content`` can write the ``unsubscribe_url`` variable. A template names a variable in its text, so
    one that never mentions "unsubscribe" renders the same without it, and its link, signed for each customer,
    need not be made."""
    return any("unsubscribe" in text for text in (content.subject, content.body, content.url, content.button))


def unsubscribe_url(profile_id: int, channel: Channel | str) -> str:
    name = channel.value if isinstance(channel, Channel) else channel
    # What urlencode makes of these three, without its per-call generality: every message of a send builds one.
    query = f"p={_quoted(profile_id)}&c={_quoted_channel(name)}&s={_signature(profile_id, name)}"
    return f"{public_base_url()}/v1/unsubscribe?{query}"


def unsubscribe(*, session: Session, profile_id: int, channel: str, signature: str) -> Profile:
    """Withdraw the customer's consent for the channel; refused when the link was not ours."""
    if channel not in {c.value for c in Channel}:
        raise UnsubscribeError(f"unknown channel {channel!r}")
    # Compared as bytes: compare_digest refuses text that is not ASCII, and a link may hold anything.
    if not hmac.compare_digest(signature.encode(), _signature(profile_id, channel).encode()):
        raise UnsubscribeError("this unsubscribe link is not valid")
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise UnsubscribeError("this unsubscribe link is not valid")
    profile.consent = {**profile.consent, channel: False}
    profile.updated_at = utc_now()
    session.add(profile)
    audit.record(session=session, actor=f"customer:{profile_id}", action="unsubscribe", channel=channel)
    return profile
