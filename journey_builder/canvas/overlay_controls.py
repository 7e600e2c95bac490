"""The map toolbar's KPI controls (the overlay toggle and its window) and the view-only badge."""

from __future__ import annotations

import reflex as rx

from .forecast_panel import forecast_toggle
from .forecast_state import ForecastState
from .overlay_state import OverlayState
from .overlay_view import OverlayWindow


def kpi_controls() -> rx.Component:
    return rx.fragment(
        rx.el.button(
            "KPIs",
            # One set of figures on the map at a time: showing the KPIs puts the forecast away.
            on_click=[ForecastState.hide, OverlayState.toggle],
            class_name="jc-button jc-kpi-toggle",
            aria_pressed=rx.cond(OverlayState.on, "true", "false"),
            title="Show live KPIs on the map",
            id="jc-kpi-toggle",
        ),
        rx.cond(
            OverlayState.on,
            rx.el.select(
                *[rx.el.option(window.label, value=window.value) for window in OverlayWindow],
                value=OverlayState.window,
                on_change=OverlayState.set_window,
                class_name="jc-input jc-kpi-window",
                aria_label="Which customers the KPIs count",
                id="jc-kpi-window",
            ),
        ),
        forecast_toggle(),
    )


def view_only_badge() -> rx.Component:
    return rx.el.span(
        "View only",
        class_name="jc-view-only",
        title="This map is open for viewing: it cannot be changed here.",
        id="jc-view-only",
    )
