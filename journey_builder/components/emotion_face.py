"""How the customer feels at a touchpoint (-2..+2) as a face."""

from __future__ import annotations

import reflex as rx

FACES = {
    -2: ("angry", "red", "Very unhappy"),
    -1: ("frown", "orange", "Unhappy"),
    0: ("meh", "gray", "Neutral"),
    1: ("smile", "grass", "Happy"),
    2: ("laugh", "green", "Delighted"),
}


def emotion_face(emotion: rx.Var[int]) -> rx.Component:
    return rx.match(
        emotion,
        *[
            (
                value,
                rx.tooltip(
                    rx.box(
                        rx.icon(icon, size=18),
                        class_name="jb-emotion",
                        color=f"var(--{color}-11)",
                        background=f"var(--{color}-3)",
                        aria_label=label,
                    ),
                    content=label,
                ),
            )
            for value, (icon, color, label) in FACES.items()
        ],
        rx.fragment(),
    )
