"""The KPI overlay on the map, and the view-only mode executives open it in.

The canvas asks for a refresh every few seconds while the overlay is on (a timer in
assets/canvas/journey_canvas.jsx, so it stops by itself when the page is left or the tab closes;
a server-side loop would outlive a closed tab in Reflex 0.10, see reflex-dev/reflex#5049 and
#7251). A refresh changes only ``figures``: the cards, edges and lanes the canvas draws, and with
them the viewport, selection and positions, stay as they are.
"""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from engine.accounts import Action, allowed
from engine.journeys import JourneyNotFoundError, get_journey
from engine.kpis import journey_overlay, task_card_metrics
from engine.store import Role, session_scope, utc_now
from journey_builder import routes
from journey_builder.auth import acting, viewing

from .overlay_view import OverlayView, OverlayWindow, overlay_view, unavailable

VIEW_ONLY_MESSAGE = "This map is open view-only: nothing was changed."
ARCHIVED_MESSAGE = "This journey is archived: restore it to change it. Nothing was changed."
# A refresh still running after this long is taken to have died (a restarted worker), so the
# next one is not skipped forever.
STALE_REFRESH_SECONDS = 30.0


def _archived(journey_id: int) -> bool:
    try:
        with session_scope() as session:
            return get_journey(session=session, journey_id=journey_id).archived_at is not None
    except JourneyNotFoundError:
        return False


def _figures(journey_id: int, window: OverlayWindow) -> OverlayView:
    stamp = time.time()
    try:
        with session_scope() as session:
            metrics_filter = window.metrics_filter(journey_id, utc_now())
            overlay = journey_overlay(session=session, metrics_filter=metrics_filter)
            tasks = task_card_metrics(session=session, metrics_filter=metrics_filter)
    except JourneyNotFoundError:
        return unavailable(window, "This journey no longer exists.", stamp=stamp)
    return overlay_view(overlay, window, stamp=stamp, tasks=tasks)


class OverlayState(rx.State):
    on: bool = False
    read_only: bool = False
    # An archived journey is kept as it is: its map opens view-only until it is restored.
    archived: bool = False
    # Opened as a figures view (``?view=kpi``): not even the actions a role may take show.
    kpi_view: bool = False
    window: OverlayWindow = OverlayWindow.ALL
    figures: OverlayView = rx.field(default_factory=OverlayView)

    _journey_id: int = 0
    # What the refresh in flight computes ("journey:window") and when it started.
    _in_flight: str = ""
    _in_flight_since: float = 0.0

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def load(self) -> rx.event.EventSpec | None:
        """On opening a map: view-only for roles that may not edit it and with ``?view=kpi``; the overlay
        starts on for that link and for executives, whose view of a map is its figures."""
        self._journey_id = routes.journey_id_in(self.router.url.path)
        role = acting().role
        self.kpi_view = self.router.url.query_parameters.get(routes.VIEW_PARAM) == routes.KPI_VIEW
        self._lock(archived=_archived(self._journey_id))
        self.on = self.kpi_view or role is Role.EXECUTIVE
        self.figures = OverlayView()
        return OverlayState.refresh if self.on else None

    def _lock(self, *, archived: bool) -> None:
        """View-only for a KPI link, a role that may not edit, or an archived journey."""
        self.archived = archived
        self.read_only = self.kpi_view or archived or not allowed(acting().role, Action.EDIT_DRAFT)

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def toggle(self) -> rx.event.EventSpec | None:
        self.on = not self.on
        self.figures = OverlayView()
        return OverlayState.refresh if self.on else None

    @rx.event
    @viewing(Action.VIEW_JOURNEYS)
    def set_window(self, window: str) -> rx.event.EventSpec | None:
        self.window = OverlayWindow(window)
        return OverlayState.refresh

    @rx.event(background=True)
    @viewing(Action.VIEW_JOURNEYS)
    async def refresh(self) -> None:
        """Recompute the figures; the query runs outside the state lock, so the map stays responsive."""
        async with self:
            key = f"{self._journey_id}:{self.window.value}"
            running = self._in_flight == key and time.monotonic() - self._in_flight_since < STALE_REFRESH_SECONDS
            if not self.on or not self._journey_id or running:
                return
            self._in_flight, self._in_flight_since = key, time.monotonic()
            journey_id, window = self._journey_id, self.window
        try:
            figures = await asyncio.to_thread(_figures, journey_id, window)
        except Exception as error:  # a failed query must show on the map, not vanish
            figures = unavailable(window, f"Figures could not be refreshed: {error}", stamp=time.time())
        async with self:
            if self._in_flight == key:
                self._in_flight = ""
            if self.on and journey_id == self._journey_id and window == self.window:
                self.figures = figures


async def refusal_if_view_only(state: rx.State) -> rx.event.EventSpec | None:
    """The one server-side check that keeps a view-only map as it is.

    Every handler that changes the map asks it first, after its role check: a map opened with
    ``?view=kpi``, or an archived journey's, stays as it is even for a designer.
    """
    overlay = await state.get_state(OverlayState)
    if not overlay.read_only:
        return None
    return rx.toast.warning(ARCHIVED_MESSAGE if overlay.archived and not overlay.kpi_view else VIEW_ONLY_MESSAGE)
