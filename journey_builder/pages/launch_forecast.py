"""Launch control's forecast: "Forecast this version" before Launch, and the totals Launch's confirmation shows.

The newest published version (the one Launch opens to entries) is replayed over the last 7 days of stored events
(``engine.forecast``): nothing is written, nothing is sent."""

from __future__ import annotations

import asyncio

import reflex as rx

from engine.accounts import Action
from engine.forecast import DEFAULT_SINCE, Forecast, ForecastError, forecast
from engine.journeys import JourneyNotFoundError
from engine.runtime import latest_version
from engine.store import session_scope
from journey_builder.auth import SessionState, viewing
from journey_builder.routes import journey_id_in


def totals_line(result: Forecast) -> str:
    """One sentence of the forecast's totals: entries, goal, sends and what was held, per channel."""
    low, high = result.goal_reached.low, result.goal_reached.high
    goal = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    sends = ", ".join(f"{c.channel} {c.sent:,}" for c in result.channels if c.sent) or "nothing"
    held = sum(c.suppressed + c.deferred for c in result.channels)
    return (
        f"Over the 7 days of events to {result.until:%Y-%m-%d %H:%M:%S} UTC, version {result.version} would have "
        f"entered {result.entered:,} customers ({goal} reaching the goal) and sent {sends}; {held:,} sends held by "
        "the cap, quiet hours or consent."
    )


def _forecast_newest(journey_id: int) -> str:
    with session_scope() as session:
        version = latest_version(session=session, journey_id=journey_id)
        if version is None:
            return "Not published yet: publish a version to forecast it."
        made = forecast(session=session, journey_id=journey_id, version=version.number, since=DEFAULT_SINCE)
        session.rollback()
        return totals_line(made)


class LaunchForecastState(rx.State):
    totals: str = ""
    busy: bool = False

    @rx.event(background=True)
    @viewing(Action.FORECAST)
    async def forecast_version(self) -> None:
        async with self:
            if self.busy:
                return
            self.busy, self.totals = True, ""
            journey_id = journey_id_in(self.router.url.path)
        try:
            totals = await asyncio.to_thread(_forecast_newest, journey_id)
        except (ForecastError, JourneyNotFoundError) as error:
            totals = f"No forecast: {error}"
        async with self:
            self.busy, self.totals = False, totals

    @rx.event
    @viewing(Action.FORECAST)
    def launch_opened(self, opened: bool) -> rx.event.EventSpec | None:
        """Launch's confirmation opened: make the forecast it shows, unless one is made or on its way."""
        if opened and not self.totals and not self.busy:
            return LaunchForecastState.forecast_version
        return None


def forecast_button() -> rx.Component:
    return rx.cond(
        SessionState.can_forecast,
        rx.button(
            rx.cond(LaunchForecastState.busy, "Forecasting…", "Forecast this version"),
            on_click=LaunchForecastState.forecast_version,
            disabled=LaunchForecastState.busy,
            variant="outline",
            color_scheme="violet",
            data_testid="forecast-version",
        ),
    )


def forecast_totals() -> rx.Component:
    return rx.cond(
        LaunchForecastState.totals != "",
        rx.callout(
            rx.text(rx.text.span("Forecast: ", weight="bold"), LaunchForecastState.totals),
            icon="telescope",
            color_scheme="violet",
            size="1",
            data_testid="forecast-totals",
        ),
    )


def launch_text() -> rx.Var[str]:
    """Launch's confirmation: what launching does, and the forecast's totals once made."""
    plain = "Customers who match the trigger will start entering now."
    return rx.cond(
        LaunchForecastState.totals != "",
        plain + " Forecast: " + LaunchForecastState.totals,
        plain + " Forecasting what this version would do…",
    )
