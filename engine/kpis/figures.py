"""The figures the KPI queries return: the filter saying which customers they are about, and the
result models (per stage, node, edge, split arm and day, and the whole overlay)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from engine.store import utc_now


class VersionNotFoundError(LookupError):
    def __init__(self, journey_id: int, number: int) -> None:
        super().__init__(f"journey {journey_id} has no published version {number}")
        self.journey_id = journey_id
        self.number = number


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricsFilter(_Frozen):
    """Which customers the figures are about: one journey, optionally one version, in a window.

    ``version`` is the version number people see (v1, v2 ...); None means every version.
    ``since`` and ``until`` bound the window (since <= t < until); None leaves that side open.
    """

    journey_id: int
    version: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @model_validator(mode="after")
    def _window_is_aware_and_ordered(self) -> Self:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})")
        if self.version is not None and self.version < 1:
            raise ValueError(f"version numbers start at 1, got {self.version}")
        return self

    @classmethod
    def last(
        cls, period: timedelta, *, journey_id: int, version: int | None = None, now: datetime | None = None
    ) -> MetricsFilter:
        end = now if now is not None else utc_now()
        return cls(journey_id=journey_id, version=version, since=end - period, until=end)

    @classmethod
    def last_24h(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(hours=24), journey_id=journey_id, version=version, now=now)

    @classmethod
    def last_7d(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(days=7), journey_id=journey_id, version=version, now=now)

    @classmethod
    def last_30d(cls, *, journey_id: int, version: int | None = None, now: datetime | None = None) -> MetricsFilter:
        return cls.last(timedelta(days=30), journey_id=journey_id, version=version, now=now)

    @classmethod
    def all_time(cls, *, journey_id: int, version: int | None = None) -> MetricsFilter:
        return cls(journey_id=journey_id, version=version)

    @classmethod
    def custom(
        cls, *, journey_id: int, since: datetime | None, until: datetime | None, version: int | None = None
    ) -> MetricsFilter:
        return cls(journey_id=journey_id, version=version, since=since, until=until)


class StageMetrics(_Frozen):
    """One stage, for the visits to it that began in the window.

    A visit is a customer entering the stage from another one (or entering the journey there); a
    customer who comes back to a stage visits it again, and a customer who never leaves a stage's
    part of the map visits it once. ``moved_on`` visits went on to the next stage, before the window
    closed; ``conversion`` is the shared definition, ``moved_on`` / ``entered``: the share of this
    stage's visits that went on to the next stage (visits to the next stage that came from elsewhere,
    such as a goal reached from an earlier stage, are not this stage's). ``dropped_off`` visits ended
    the run there without the goal, ``reached_goal`` ones reached it there (a success); ``in_flight``
    are still there: neither moved out (to the next stage or elsewhere) nor ended. Velocity is the
    time from entering this stage to entering the next, over the visits that moved on. The last stage
    has no next one: its ``moved_on``, ``conversion`` and velocity are None. All as things stood when the window closed.
    """

    stage_id: str
    entered: int
    moved_on: int | None
    conversion: float | None
    dropped_off: int
    reached_goal: int
    in_flight: int
    velocity_median: timedelta | None
    velocity_p90: timedelta | None


class NodeMetrics(_Frozen):
    """One node: entries in the window, customers waiting there now, and the messages it wrote.

    ``sent`` counts the messages the node wrote to go out (pending, delivered or failed);
    suppressed and skipped ones were held back and are counted on their own.
    """

    node_id: str
    customers: int
    entries: int
    waiting: int
    sent: int
    pending: int
    delivered: int
    failed: int
    suppressed: int
    skipped: int


class GoalConversion(_Frozen):
    entered: int
    reached_goal: int
    rate: float | None


class ChannelRecovery(_Frozen):
    """Customers whose last delivered message before the goal came through ``channel``.

    ``channel`` None: they reached the goal without any message of this journey reaching them.
    """

    channel: str | None
    customers: int


class ArmResult(_Frozen):
    arm: str
    holdout: bool
    customers: int
    reached_goal: int
    rate: float | None
    # Two-sided two-proportion z-test against the first arm; None for the first arm itself and
    # when the test is undefined (an empty arm, or no variation at all).
    p_value: float | None
    small_sample: bool


class SplitResult(_Frozen):
    node_id: str
    arms: tuple[ArmResult, ...]
    small_sample: bool


class DailyConversion(_Frozen):
    """One bucket of time (a UTC day, or an hour or minutes for a short history, see
    :mod:`engine.kpis.buckets`) starting at ``start``: customers who entered then, how many of them
    reached the goal (by the end of the window), and how many goals were reached in it (by anyone)."""

    start: datetime
    size: timedelta
    entered: int
    converted: int
    goals_reached: int

    @property
    def day(self) -> date:
        return self.start.date()


class EdgeShare(_Frozen):
    """Customers who went straight from ``source`` to ``target`` (consecutive steps of one run), as a
    share of those who entered ``source`` in the window. ``edge_ids`` are the map edges drawn along
    that path (touchpoints in between are not run, so one step-to-step path can cover several)."""

    source: str
    target: str
    customers: int
    share: float | None
    edge_ids: tuple[str, ...]


class InAppCard(_Frozen):
    """One in-app send node's messages delivered into inboxes in the window, and what customers did with them by
    the window's end: ``open_rate`` and ``click_rate`` are shares of those delivered (a click reads a message too,
    so a click is always an open). Test sends are left out."""

    node_id: str
    delivered: int
    opened: int
    clicked: int
    dismissed: int
    open_rate: float | None
    click_rate: float | None


class JourneyOverlay(_Frozen):
    filter: MetricsFilter
    stages: tuple[StageMetrics, ...]
    nodes: tuple[NodeMetrics, ...]
    edges: tuple[EdgeShare, ...]
    goal: GoalConversion
    in_app: tuple[InAppCard, ...] = ()
