"""Running customers through their plans: pure decisions, the walk that writes what happened, entries,
the consumer of stored events and its reactions, the lifecycle of a journey (launch, pause, resume, stop) and
the launch-control read model.
"""

from engine.runtime.consume import CONSUME_BATCH, Consumed, consume_batch, consume_events
from engine.runtime.decisions import (
    Customer,
    Ended,
    EndReason,
    GoalReached,
    NodeEntered,
    ResumeMode,
    SendMessage,
    SendSkipped,
    SplitAssigned,
    TraitsUpdated,
    Waiting,
    advance,
    after_wait,
    next_local_time,
    split_bucket,
)
from engine.runtime.due import CLAIM_BATCH, advance_due
from engine.runtime.entry import Entrant, enroll_many, enroll_scheduled_audience, scheduled_journeys
from engine.runtime.lifecycle import (
    LifecycleError,
    StopMode,
    finish_drained,
    latest_version,
    launch_journey,
    pause_journey,
    resume_journey,
    stop_journey,
)
from engine.runtime.runs import find_customer, run_overview

__all__ = [
    "CLAIM_BATCH",
    "CONSUME_BATCH",
    "Consumed",
    "Customer",
    "EndReason",
    "Ended",
    "Entrant",
    "GoalReached",
    "LifecycleError",
    "NodeEntered",
    "ResumeMode",
    "SendMessage",
    "SendSkipped",
    "SplitAssigned",
    "StopMode",
    "TraitsUpdated",
    "Waiting",
    "advance",
    "advance_due",
    "after_wait",
    "consume_batch",
    "consume_events",
    "enroll_many",
    "enroll_scheduled_audience",
    "find_customer",
    "finish_drained",
    "latest_version",
    "launch_journey",
    "next_local_time",
    "pause_journey",
    "resume_journey",
    "run_overview",
    "scheduled_journeys",
    "split_bucket",
    "stop_journey",
]
