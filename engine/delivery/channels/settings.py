"""Channel configuration, read from the environment, and the senders it implies.

| variable | default | meaning |
|---|---|---|
| `JOURNEY_SMTP_HOST` | unset | SMTP server for email. Unset: email goes to the sandbox. |
| `JOURNEY_SMTP_PORT` | `25` | SMTP port, 1-65535. |
| `JOURNEY_SMTP_FROM` | `journeys@localhost` | The `From` address of every email. |
| `JOURNEY_SMTP_USERNAME` | unset | Log in with this user name (after STARTTLS when that is on). |
| `JOURNEY_SMTP_PASSWORD` | unset | Password for `JOURNEY_SMTP_USERNAME`. |
| `JOURNEY_SMTP_STARTTLS` | `false` | Upgrade the SMTP connection with STARTTLS (a flag, see below). |
| `JOURNEY_SMTP_CONNECTIONS` | `4` | SMTP connections per engine process, 1-32: how many emails it sends at once. |
| `JOURNEY_SMS_URL` | unset | http(s) URL of the SMS provider. Unset: SMS goes to the sandbox. |
| `JOURNEY_SMS_TOKEN` | unset | Sent as `Authorization: Bearer <token>` to the SMS provider. |
| `JOURNEY_PUSH_URL` | unset | http(s) URL of the push provider. Unset: push goes to the sandbox. |
| `JOURNEY_PUSH_TOKEN` | unset | Sent as `Authorization: Bearer <token>` to the push provider. |
| `JOURNEY_WEBHOOK_ALLOWLIST` | empty | Comma-separated hosts, IPs or CIDRs webhooks may reach though not public. |
| `JOURNEY_SANDBOX` | `false` | Send nothing on any channel, webhooks included (a flag, see below). |
| `JOURNEY_IN_APP_EXPIRY` | `P30D` | How long a delivered in-app message stays in the customer's inbox (ISO 8601). |

Flags accept `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`. The SMS and push providers receive a JSON
`POST` described in `engine/delivery/channels/http.py`. Webhooks refuse loopback, private, link-local and other
non-public addresses (see `engine/delivery/channels/webhook.py`); an allowlist such as
`127.0.0.1,hooks.internal,10.1.0.0/16` lets them through. The sandbox stores a message in the outbox and
sends nothing. In-app messages go into the customer's inbox (``engine.delivery.channels.inbox``) when the engine
builds its senders with its database sessions; without them (a one-off tool) they go to the sandbox.
A bad value raises `ChannelSettingsError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session

from engine.delivery.channels.base import Sender
from engine.delivery.channels.email import SmtpSender
from engine.delivery.channels.http import HttpProviderSender, require_http_url
from engine.delivery.channels.inbox import DEFAULT_LIFETIME, InboxSender
from engine.delivery.channels.pool import SenderPool
from engine.delivery.channels.sandbox import SandboxSender
from engine.delivery.channels.webhook import WebhookSender, parse_allowlist
from engine.map import SENDABLE_CHANNELS, Channel, DurationFormatError, parse_duration

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ChannelSettingsError(ValueError):
    """A channel environment variable has a value that cannot be used."""


@dataclass(frozen=True, kw_only=True)
class ChannelSettings:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "journeys@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_connections: int = 4
    sms_url: str | None = None
    sms_token: str | None = field(default=None, repr=False)
    push_url: str | None = None
    push_token: str | None = field(default=None, repr=False)
    webhook_allowlist: tuple[str, ...] = ()
    sandbox: bool = False
    in_app_expiry: timedelta = DEFAULT_LIFETIME

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ChannelSettings:
        def text(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        smtp_from = text("JOURNEY_SMTP_FROM") or "journeys@localhost"
        if "@" not in smtp_from or any(c.isspace() for c in smtp_from):
            raise ChannelSettingsError(f"JOURNEY_SMTP_FROM must be an email address, got {smtp_from!r}")
        return cls(
            smtp_host=text("JOURNEY_SMTP_HOST"),
            smtp_port=_port(environ, "JOURNEY_SMTP_PORT", default=25),
            smtp_from=smtp_from,
            smtp_username=text("JOURNEY_SMTP_USERNAME"),
            smtp_password=environ.get("JOURNEY_SMTP_PASSWORD") or None,
            smtp_starttls=_flag(environ, "JOURNEY_SMTP_STARTTLS"),
            smtp_connections=_count(environ, "JOURNEY_SMTP_CONNECTIONS", default=4, most=32),
            sms_url=_url(environ, "JOURNEY_SMS_URL"),
            sms_token=text("JOURNEY_SMS_TOKEN"),
            push_url=_url(environ, "JOURNEY_PUSH_URL"),
            push_token=text("JOURNEY_PUSH_TOKEN"),
            webhook_allowlist=_allowlist(environ, "JOURNEY_WEBHOOK_ALLOWLIST"),
            sandbox=_flag(environ, "JOURNEY_SANDBOX"),
            in_app_expiry=_duration(environ, "JOURNEY_IN_APP_EXPIRY", default=DEFAULT_LIFETIME),
        )


def build_senders(
    settings: ChannelSettings, *, sessions: Callable[[], AbstractContextManager[Session]] | None = None
) -> dict[Channel, Sender]:
    """One sender per sendable channel: the configured provider, or the sandbox where there is none. In-app
    messages go into the inbox, which needs the engine's database ``sessions``."""
    senders: dict[Channel, Sender] = {}
    for channel in sorted(SENDABLE_CHANNELS):
        senders[channel] = SandboxSender() if settings.sandbox else _sender_for(channel, settings)
    if sessions is not None and not settings.sandbox:
        senders[Channel.IN_APP] = InboxSender(sessions, lifetime=settings.in_app_expiry)
    return senders


def _sender_for(channel: Channel, settings: ChannelSettings) -> Sender:
    if channel is Channel.EMAIL and settings.smtp_host:
        connections = [
            SmtpSender(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_from,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
            )
            for _ in range(settings.smtp_connections)
        ]
        return connections[0] if len(connections) == 1 else SenderPool(connections)
    if channel is Channel.SMS and settings.sms_url:
        return HttpProviderSender(settings.sms_url, Channel.SMS, token=settings.sms_token)
    if channel is Channel.PUSH and settings.push_url:
        return HttpProviderSender(settings.push_url, Channel.PUSH, token=settings.push_token)
    if channel is Channel.WEBHOOK:
        return WebhookSender(settings.webhook_allowlist)
    return SandboxSender()


def _port(environ: Mapping[str, str], name: str, *, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ChannelSettingsError(f"{name} must be a port number (1-65535), got {raw!r}") from None
    if not 0 < port < 65536:
        raise ChannelSettingsError(f"{name} must be a port number (1-65535), got {raw!r}")
    return port


def _count(environ: Mapping[str, str], name: str, *, default: int, most: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ChannelSettingsError(f"{name} must be a whole number from 1 to {most}, got {raw!r}")
    return int(raw)


def _duration(environ: Mapping[str, str], name: str, *, default: timedelta) -> timedelta:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse_duration(raw)
    except (DurationFormatError, ValueError) as error:
        raise ChannelSettingsError(f"{name} must be an ISO 8601 duration such as P30D, got {raw!r}: {error}") from None
    if value <= timedelta(0):
        raise ChannelSettingsError(f"{name} must be longer than zero, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ChannelSettingsError(f"{name} must be true or false (1/0, yes/no, on/off), got {environ[name]!r}")


def _url(environ: Mapping[str, str], name: str) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return require_http_url(raw, what=name)
    except ValueError as error:
        raise ChannelSettingsError(str(error)) from None


def _allowlist(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in environ.get(name, "").split(",") if entry.strip())
    try:
        parse_allowlist(entries)
    except ValueError as error:
        raise ChannelSettingsError(f"{name}: {error}") from None
    return entries
