"""What a forecast yields: per node, stage, split arm and channel, in the shape of the live KPI overlay, plus
what the replay could not know (figures given as a range) and what it left out (notes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

HOURS = 24


class ForecastError(ValueError):
    """A forecast people asked for that cannot be made (a window that is no window, a map that does not compile)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    """A figure the replay cannot pin down: at least ``low``, at most ``high``."""

    low: int
    high: int


class NodeForecast(_Frozen):
    """One node, as the live overlay counts it: entries in the window, customers (distinct runs), customers still
    waiting there at the window's end, and the messages it wrote by what the delivery policy did with them.

    ``sent`` went out (at once, or once quiet hours ended), ``sent_by_channel`` by the channel it went out on (the
    fallback's, when the first was blocked); ``deferred`` were held by quiet hours at first (those
    still held at the window's end are ``pending``); ``suppressed`` were held for good, ``held`` says why by kind
    (``frequency cap``, ``consent``, ``no address``) and ``reasons`` by the policy's own words; ``failed`` could not be
    rendered; ``skipped`` were passed over. ``sends_by_hour`` counts sends per UTC hour of day. ``event_path`` is set
    on a wait for an event that no stored event of the window ever answered (a click on a message this version
    sends, say): the replay took every customer down the timeout path, but any of them might have taken the other.
    """

    node_id: str
    entries: int
    customers: int
    waiting: int
    channel: str | None = None
    sent: int = 0
    sent_by_channel: dict[str, int] = {}
    deferred: int = 0
    pending: int = 0
    suppressed: int = 0
    failed: int = 0
    skipped: int = 0
    held: dict[str, int] = {}
    reasons: dict[str, int] = {}
    sends_by_hour: tuple[int, ...] = ()
    event_path: Range | None = None


class StageForecast(_Frozen):
    """One stage's visits begun in the window, as the live overlay counts them (``in_flight``: still there at the
    window's end; ``conversion``: moved on / entered, None for the last stage)."""

    stage_id: str
    entered: int
    moved_on: int | None
    conversion: float | None
    dropped_off: int
    reached_goal: int
    in_flight: int


class ArmForecast(_Frozen):
    node_id: str
    arm: str
    holdout: bool
    customers: int


class ChannelForecast(_Frozen):
    """One channel's messages over the whole journey (the nodes' figures added up)."""

    channel: str
    sent: int
    deferred: int
    pending: int
    suppressed: int
    failed: int
    skipped: int
    held: dict[str, int]
    sends_by_hour: tuple[int, ...]


class Forecast(_Frozen):
    """The forecast of one journey version (``version`` None: the draft) over ``[since, until)``."""

    journey_id: int
    journey_name: str
    version: int | None
    since: datetime
    until: datetime
    events: int
    customers: int
    entered: int
    goal_reached: Range
    stages: tuple[StageForecast, ...]
    nodes: tuple[NodeForecast, ...]
    arms: tuple[ArmForecast, ...]
    channels: tuple[ChannelForecast, ...]
    notes: tuple[str, ...]

    def node(self, node_id: str) -> NodeForecast | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)
