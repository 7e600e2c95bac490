"""``forecast``: a journey version's (or its draft's) figures over a past window of stored events, made by the
replay (:mod:`engine.forecast.replay`) and read only from the store: nothing is written, nothing is sent."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlmodel import Session

from engine.compiler import Plan
from engine.forecast.figures import Forecast, ForecastError, Range
from engine.forecast.parts import PartOutcome, replay_window
from engine.forecast.source import draft_plan, version_plan
from engine.journeys import LoadedPlan, get_journey
from engine.map import DurationFormatError, ScheduleTrigger, parse_duration
from engine.store import utc_now

DEFAULT_SINCE = timedelta(days=7)
# A forecast reads every event of its window: a quarter of a year is as far back as one goes.
MAX_SINCE = timedelta(days=92)
_SHORT = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """How far back a forecast looks: ``7d``, ``24h``, ``90m``, ``2w`` or an ISO duration (``P7D``)."""
    short = _SHORT.match(text)
    if short:
        span = timedelta(**{_UNITS[short.group(2).lower()]: int(short.group(1))})
    else:
        try:
            span = parse_duration(text)
        except DurationFormatError:
            raise ForecastError(
                f"{text[:40]!r} is not a window: write it as 7d, 24h, 90m, 2w or an ISO duration such as P7D"
            ) from None
    return checked_since(span)


def checked_since(span: timedelta) -> timedelta:
    if span <= timedelta(0):
        raise ForecastError("the window must be longer than nothing (7d, 24h ...)")
    if span > MAX_SINCE:
        raise ForecastError(f"the window may be at most {MAX_SINCE.days} days long, not {span}")
    return span


def window_end() -> datetime:
    """Now, to the whole second: the end the map and launch control show is then exactly the one
    `journey forecast --until` takes to make the same figures again."""
    return utc_now().replace(microsecond=0)


def forecast(
    *,
    session: Session,
    journey_id: int,
    version: int | None = None,
    since: timedelta = DEFAULT_SINCE,
    until: datetime | None = None,
    processes: int | None = None,
) -> Forecast:
    """The forecast of version ``version`` (None: the draft) over the ``since`` before ``until`` (default now), in
    ``processes`` parts (None: as many as the window is worth, :func:`engine.forecast.parts.process_count`)."""
    journey = get_journey(session=session, journey_id=journey_id)
    if version is None:
        loaded, version_id = draft_plan(session=session, journey_id=journey_id), 0
    else:
        version_id, loaded = version_plan(session=session, journey_id=journey_id, number=version)
    end = until if until is not None else window_end()
    return forecast_plan(
        session=session,
        loaded=loaded,
        journey_id=journey_id,
        journey_name=journey.name,
        version=version,
        version_id=version_id,
        since=end - checked_since(since),
        until=end,
        processes=processes,
    )


def forecast_plan(
    *,
    session: Session,
    loaded: LoadedPlan,
    journey_id: int,
    journey_name: str,
    version: int | None,
    version_id: int,
    since: datetime,
    until: datetime,
    processes: int | None = None,
) -> Forecast:
    """Replay ``[since, until)`` through ``loaded`` and lay out what it did."""
    plan = loaded.plan
    if isinstance(plan.entry.trigger, ScheduleTrigger):
        raise ForecastError(
            "this journey enters customers on a schedule, not on their events: a forecast replays events, "
            "so it cannot say who a schedule would enter"
        )
    outcome = replay_window(
        session,
        loaded,
        journey_id=journey_id,
        version_id=version_id,
        since=since,
        until=until,
        processes=processes,
    )
    return _laid_out(
        outcome, plan, journey_id=journey_id, journey_name=journey_name, version=version, since=since, until=until
    )


def _laid_out(
    outcome: PartOutcome,
    plan: Plan,
    *,
    journey_id: int,
    journey_name: str,
    version: int | None,
    since: datetime,
    until: datetime,
) -> Forecast:
    tally = outcome.tally
    waiting, waiting_by_stage = outcome.waiting_by_step, outcome.waiting_by_stage
    unanswered = {
        step
        for step, event in tally.waits.items()
        if event not in outcome.seen_events and tally.timeouts[step] + waiting.get(step, 0)
    }
    node_ids = [plan.entry.node_id, *(step.id for step in plan.steps)]
    nodes = tally.nodes(node_ids, waiting, unanswered)
    still = sum(waiting.values())
    notes = [
        "Customers start the window outside this journey: nobody already inside it is carried over.",
        "Profiles are today's copies, with the window's identify calls applied in order.",
    ]
    if plan.frequency_cap is not None:
        notes.append("The frequency cap counts this forecast's own sends, not those of other journeys.")
    if still:
        notes.append(
            f"{still} customer(s) were still waiting at the window's end: what they do next lies beyond it, "
            "so the goal reached is a range."
        )
    for step in sorted(unanswered):
        notes.append(
            f"Nobody did {tally.waits[step]!r} in the window, awaited at {step!r}: if only this journey's messages "
            "cause it (a click), a replay cannot know it; that path is shown as a range."
        )
    pending = sum(n.pending for n in nodes)
    if pending:
        notes.append(f"{pending} message(s) were still held by quiet hours at the window's end.")
    return Forecast(
        journey_id=journey_id,
        journey_name=journey_name,
        version=version,
        since=since,
        until=until,
        events=outcome.events,
        customers=outcome.customers,
        entered=tally.entered,
        goal_reached=Range(low=tally.goal_reached, high=tally.goal_reached + still),
        stages=tally.stages(waiting_by_stage),
        nodes=nodes,
        arms=tally.arm_figures(),
        channels=tally.channels(nodes),
        notes=tuple(notes),
    )
