"""A journey's lifecycle status as a coloured badge."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {"draft": "gray", "live": "green", "paused": "amber", "draining": "orange", "stopped": "red"}
STATUS_ICONS = {"draft": "pencil", "live": "radio", "paused": "pause", "draining": "hourglass", "stopped": "square"}


def status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        rx.match(
            status,
            *[(name, rx.icon(icon, size=12)) for name, icon in STATUS_ICONS.items()],
            rx.icon("circle", size=12),
        ),
        status,
        color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
        radius="full",
        size="2",
        class_name="jb-status-badge",
    )
