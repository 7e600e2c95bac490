"""Numbers and labels as the KPI pages and the CSV show them: counts, rates, durations, channel names."""

from __future__ import annotations

from datetime import datetime, timedelta
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
    seconds = value.total_seconds()
    # Under a minute in whole seconds, cut as the map's overlay cuts them (canvas/overlay_view.py's short_duration):
    # "0 min" or "7 s" here beside the map's "6 s" would read as a contradiction.
    if seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def per_bucket(size: timedelta) -> str:
    """What one point of a series over time stands for: "Per UTC day", "Per hour (UTC)", "Per 5 minutes (UTC)"."""
    return "Per " + bucket_name(size)


def bucket_name(size: timedelta) -> str:
    if size >= timedelta(days=1):
        return "UTC day"
    if size == timedelta(hours=1):
        return "hour (UTC)"
    minutes = int(size.total_seconds() // 60)
    return "minute (UTC)" if minutes == 1 else f"{minutes} minutes (UTC)"


def bucket_text(start: datetime, size: timedelta) -> str:
    """A bucket's start as the CSV and the charts write it: the day, or the day and the UTC time."""
    return start.date().isoformat() if size >= timedelta(days=1) else start.strftime("%Y-%m-%d %H:%M")


def bucket_column(size: timedelta) -> tuple[str, str]:
    """The CSV's headers for a bucket's start and for the goals reached in it."""
    if size >= timedelta(days=1):
        return "Day (UTC)", "Goals reached that day (customers)"
    if size == timedelta(hours=1):
        return "Hour (UTC)", "Goals reached that hour (customers)"
    name = bucket_name(size).removesuffix(" (UTC)")
    return f"{name.capitalize()} from (UTC)", f"Goals reached in those {name} (customers)".replace(
        "those minute ", "that minute "
    )
