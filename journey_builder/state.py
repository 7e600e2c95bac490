"""What every page's state shares: how times are shown. Imports nothing else from the app."""

from __future__ import annotations

from datetime import datetime


def ago(moment: datetime, now: datetime) -> str:
    """``moment`` as people say it relative to ``now``: "just now", "5 min ago", "3 h ago", "2 days ago", or a date."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 14:
        return "yesterday" if days == 1 else f"{days} days ago"
    return f"{moment:%d %b %Y}"
