"""Whether a message may go out now: consent, quiet hours and frequency caps. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.map import Channel, FrequencyCap, QuietHours, format_duration

# Internal tasks (a CSM ticket, a hand-over to the voice agent) are not messages to the customer,
# so a customer's quiet hours and caps do not hold them back.
CUSTOMER_FACING = frozenset({Channel.EMAIL, Channel.SMS, Channel.PUSH, Channel.IN_APP})
# Quiet hours keep a customer from being interrupted. An in-app message interrupts nobody: it waits in the inbox
# until the customer next opens the app, so it is delivered at once (holding it would hide it from someone using
# the app late in the evening).
QUIET_HOURS_APPLY = CUSTOMER_FACING - {Channel.IN_APP}


@dataclass(frozen=True)
class Allow:
    channel: Channel


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Suppress:
    reason: str


Verdict = Allow | Defer | Suppress


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _in_window(clock: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end


def quiet_hours_end(now: datetime, quiet: QuietHours, timezone: str) -> datetime | None:
    """When the quiet hours holding ``now`` end, or None when ``now`` is outside them."""
    zone = _zone(timezone)
    local = now.astimezone(zone)
    if not _in_window(local.time(), quiet.start, quiet.end):
        return None
    end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


@dataclass(frozen=True, kw_only=True)
class Recipient:
    consent: Mapping[str, bool]
    timezone: str
    sent_in_window: Mapping[str, int]


def decide(
    *,
    channel: Channel,
    fallback: Channel | None,
    recipient: Recipient,
    has_address: bool,
    fallback_has_address: bool,
    quiet: QuietHours | None,
    cap: FrequencyCap | None,
    now: datetime,
) -> Verdict:
    """The verdict for one message; the fallback channel is tried when the first is opted out."""
    chosen = channel
    if recipient.consent.get(channel.value) is False or not has_address:
        why = f"opted out of {channel.value}" if has_address else f"no address for {channel.value}"
        if fallback is None or recipient.consent.get(fallback.value) is False or not fallback_has_address:
            return Suppress(reason=why)
        chosen = fallback
    if chosen not in CUSTOMER_FACING:
        return Allow(channel=chosen)
    if cap is not None and recipient.sent_in_window.get(chosen.value, 0) >= cap.max_messages:
        return Suppress(
            reason=f"frequency cap: {cap.max_messages} {chosen.value} message(s) per {format_duration(cap.window)}"
        )
    if quiet is not None and chosen in QUIET_HOURS_APPLY:
        until = quiet_hours_end(now, quiet, recipient.timezone)
        if until is not None:
            return Defer(
                until=until,
                reason=f"quiet hours {quiet.start:%H:%M}-{quiet.end:%H:%M} in {recipient.timezone}",
            )
    return Allow(channel=chosen)
