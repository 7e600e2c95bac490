"""Numbers and labels as the KPI pages and the CSV show them: counts, rates, durations, channel names."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

CHANNEL_LABELS: Final = {
    "email": "Email",
    "sms": "SMS",
    "push": "Push",
    "in_app": "In-app",
    "webhook": "Webhook",
    "web": "Web",
    "chat": "Chat",
    "voice": "Voice",
}
NO_CHANNEL: Final = "No message"


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def format_count(value: int) -> str:
    return f"{value:,}"


def format_rate(rate: float | None) -> str:
    """A share as people read it: "12.5%"; "—" when undefined (nobody to divide by)."""
    return "—" if rate is None else f"{100 * rate:.1f}%"


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = value.total_seconds() / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"
