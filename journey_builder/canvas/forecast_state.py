"""The forecast on the map: the "Forecast" toggle beside "KPIs", the figures laid over the cards and lanes, the
summary panel with the channel totals and the chart of sends per hour, and the draft beside the live version.

Designers and marketers forecast the draft as it is on the map; everyone else sees the forecast of the newest
published version. A forecast replays the last 7 days of stored events (``engine.forecast``): it writes and sends
nothing, so every handler here only views. It runs outside the state lock, as the KPI overlay's refresh does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import datetime

import plotly.graph_objects as go
import reflex as rx

from engine.accounts import Action, allowed
from engine.forecast import DEFAULT_SINCE, Forecast, ForecastError, forecast, window_end
from engine.journeys import JourneyNotFoundError, draft_of, get_journey
from engine.runtime import latest_version
from engine.store import session_scope
from journey_builder import routes
from journey_builder.auth import acting, viewing
from journey_builder.kpis.forecast_charts import sends_per_hour

from .forecast_view import CompareRow, ForecastPanel, compare_rows, forecast_overlay, panel_of
from .overlay_state import OverlayState
from .overlay_view import OverlayView


@dataclasses.dataclass(frozen=True)
class _Made:
    result: Forecast | None
    problem: str = ""


def _newest_version(journey_id: int) -> int | None:
    with session_scope() as session:
        version = latest_version(session=session, journey_id=journey_id)
        return version.number if version is not None else None


def _forecast(journey_id: int, version: int | None, until: datetime | None = None) -> _Made:
    try:
        with session_scope() as session:
            made = forecast(session=session, journey_id=journey_id, version=version, since=DEFAULT_SINCE, until=until)
            session.rollback()
            return _Made(made)
    except (ForecastError, JourneyNotFoundError) as error:
        return _Made(None, str(error))


def _titles(journey_id: int) -> dict[str, str]:
    with session_scope() as session:
        doc = draft_of(get_journey(session=session, journey_id=journey_id))
    return {node.id: node.title or node.id for node in doc.nodes}


def _figure() -> go.Figure:
    return go.Figure()


class ForecastState(rx.State):
    on: bool = False
    busy: bool = False
    problem: str = ""
    figures: OverlayView = rx.field(default_factory=OverlayView)
    panel: ForecastPanel = rx.field(default_factory=ForecastPanel)
    chart: go.Figure = rx.field(default_factory=_figure)
    compare: list[CompareRow] = rx.field(default_factory=list)
    compare_note: str = ""

    _journey_id: int = 0

    @rx.event
    @viewing(Action.VIEW_FORECASTS)
    async def toggle(self) -> rx.event.EventSpec | None:
        self.on = not self.on
        self._clear()
        if not self.on:
            return None
        # One set of figures on the map at a time: the forecast's are not what happened.
        overlay = await self.get_state(OverlayState)
        overlay.on = False
        overlay.figures = OverlayView()
        self._journey_id = routes.journey_id_in(self.router.url.path)
        return ForecastState.run

    @rx.event
    @viewing(Action.VIEW_FORECASTS)
    def hide(self) -> None:
        self.on = False
        self._clear()

    def _clear(self) -> None:
        self.figures, self.panel, self.chart = OverlayView(), ForecastPanel(), go.Figure()
        self.problem, self.compare, self.compare_note = "", [], ""

    @rx.event(background=True)
    @viewing(Action.VIEW_FORECASTS)
    async def run(self) -> None:
        async with self:
            if not self.on or self.busy or not self._journey_id:
                return
            self.busy = True
            journey_id = self._journey_id
            draft = allowed(acting().role, Action.FORECAST)
        try:
            version = None if draft else await asyncio.to_thread(_newest_version, journey_id)
            made = (
                _Made(None, "Not published yet: there is no version to forecast.")
                if not draft and version is None
                else await asyncio.to_thread(_forecast, journey_id, version)
            )
        except Exception as error:  # a failed forecast must show on the map, not vanish
            made = _Made(None, f"The forecast could not be made: {error}")
        async with self:
            self.busy = False
            if not self.on or journey_id != self._journey_id:
                return
            if made.result is None:
                self.problem = made.problem
                return
            self.figures = forecast_overlay(made.result, stamp=time.time())
            self.panel = panel_of(made.result)
            self.chart = sends_per_hour(made.result.channels)

    @rx.event(background=True)
    @viewing(Action.FORECAST)
    async def compare_live(self) -> None:
        """The draft's forecast beside the newest published version's, node by node."""
        async with self:
            if self.busy or not self._journey_id:
                return
            self.busy = True
            journey_id = self._journey_id
        try:
            version = await asyncio.to_thread(_newest_version, journey_id)
            if version is None:
                rows, note = [], "Not published yet: there is no live version to compare with."
            else:
                # One end for both, so that a customer waiting at the end counts the same on either side.
                end = window_end()
                draft, live = await asyncio.gather(
                    asyncio.to_thread(_forecast, journey_id, None, end),
                    asyncio.to_thread(_forecast, journey_id, version, end),
                )
                if draft.result is None or live.result is None:
                    rows, note = [], draft.problem or live.problem
                else:
                    titles = await asyncio.to_thread(_titles, journey_id)
                    rows = compare_rows(draft.result, live.result, titles)
                    note = (
                        f"The draft beside version {version}, both over the 7 days of events "
                        f"to {end:%Y-%m-%d %H:%M:%S} UTC."
                    )
        except Exception as error:
            rows, note = [], f"The comparison could not be made: {error}"
        async with self:
            self.busy = False
            self.compare, self.compare_note = rows, note
