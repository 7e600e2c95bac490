"""Hand-built histories for KPI tests: runs written as the engine records them, at chosen times.

A run lists the nodes it entered with their offsets from a start time; the stage of each node and
the first-entry-into-a-stage flag come from the version's map, as the runtime writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from engine.map import JourneyMap, NodeKind
from engine.store import Enrollment, EnrollmentStatus, MessageStatus, OutboxMessage, Profile, Transition

H = timedelta(hours=1)


@dataclass(frozen=True)
class Message:
    node_id: str
    channel: str
    status: MessageStatus
    at: timedelta
    delivered: timedelta | None = None


@dataclass(frozen=True)
class Run:
    """One run, as offsets from the start: the nodes entered, and how it ended (None: still inside)."""

    steps: Sequence[tuple[str, timedelta]]
    ended: timedelta | None = None
    goal: timedelta | None = None
    arm: str | None = None
    messages: Sequence[Message] = field(default_factory=tuple)


def path(*steps: tuple[str, float]) -> list[tuple[str, timedelta]]:
    """Steps with their offsets in hours."""
    return [(node_id, hours * H) for node_id, hours in steps]


def record_runs(
    session: Session, *, doc: JourneyMap, journey_id: int, version_id: int, start: datetime, runs: Iterable[Run]
) -> None:
    """Write runs as the engine records them: each step names the step before it and when that was
    entered; each stage entry, the stage left and when that was entered; each run, where it is."""
    stage_of = {n.id: n.stage for n in doc.nodes}
    for run in runs:
        profile = Profile(user_id=f"u-{uuid.uuid4().hex}")
        session.add(profile)
        session.flush()
        assert profile.id is not None
        ended = run.ended is not None
        enrollment = Enrollment(
            journey_id=journey_id,
            version_id=version_id,
            profile_id=profile.id,
            status=EnrollmentStatus.ENDED if ended else EnrollmentStatus.WAITING,
            entered_at=start + run.steps[0][1],
            ended_at=start + run.ended if run.ended is not None else None,
            end_reason=("goal" if run.goal is not None else "exit_node") if ended else None,
            goal_reached_at=start + run.goal if run.goal is not None else None,
        )
        session.add(enrollment)
        session.flush()
        assert enrollment.id is not None
        step: tuple[str, datetime] | None = None
        stage: tuple[str, datetime] | None = None
        for node_id, offset in run.steps:
            at = start + offset
            new_stage = stage is None or stage_of[node_id] != stage[0]
            session.add(
                Transition(
                    enrollment_id=enrollment.id,
                    journey_id=journey_id,
                    version_id=version_id,
                    node_id=node_id,
                    stage_id=stage_of[node_id],
                    first_in_stage=new_stage,
                    arm=run.arm if _is_split(doc, node_id) else None,
                    at=at,
                    from_node_id=step[0] if step else None,
                    from_at=step[1] if step else None,
                    from_stage_id=stage[0] if stage and new_stage else None,
                    from_stage_at=stage[1] if stage and new_stage else None,
                    from_stage_seconds=(at - stage[1]).total_seconds() if stage and new_stage else None,
                )
            )
            step = (node_id, at)
            stage = (stage_of[node_id], at) if new_stage else stage
        assert step is not None
        assert stage is not None
        if not ended:
            enrollment.step_id, enrollment.step_entered_at = step
        enrollment.stage_id, enrollment.stage_entered_at = stage
        for message in run.messages:
            session.add(
                OutboxMessage(
                    idempotency_key=uuid.uuid4().hex,
                    enrollment_id=enrollment.id,
                    journey_id=journey_id,
                    profile_id=profile.id,
                    node_id=message.node_id,
                    channel=message.channel,
                    status=message.status,
                    created_at=start + message.at,
                    delivered_at=start + message.delivered if message.delivered is not None else None,
                )
            )
    session.flush()


def _is_split(doc: JourneyMap, node_id: str) -> bool:
    node = doc.node(node_id)
    return node is not None and node.kind is NodeKind.SPLIT


def story_map(name: str) -> JourneyMap:
    """A trial journey drawn as executives see it: a stage of touchpoints only (Research), then
    Sign up (mail, pause), Trial (a split: SMS or push, then a wait) and Purchase (bought or lost)."""
    return JourneyMap.from_dict(
        {
            "name": name,
            "stages": [
                {"id": "research", "name": "Research", "order": 0},
                {"id": "signup", "name": "Sign up", "order": 1},
                {"id": "trial", "name": "Trial", "order": 2},
                {"id": "purchase", "name": "Purchase", "order": 3},
            ],
            "nodes": [
                {"id": "reads", "kind": "touchpoint", "stage": "research", "emotion": 1, "title": "Reads reviews"},
                {
                    "id": "entry",
                    "kind": "trigger",
                    "stage": "signup",
                    "emotion": 1,
                    "trigger": {"type": "event", "event": "signed_up", "filters": [], "properties": []},
                },
                {
                    "id": "mail",
                    "kind": "send",
                    "stage": "signup",
                    "channel": "email",
                    "title": "Welcome mail",
                    "content": {"subject": "Welcome", "body": "Hello"},
                },
                {"id": "pause", "kind": "wait", "stage": "signup", "duration": "PT1H", "emotion": -1},
                {
                    "id": "ab",
                    "kind": "split",
                    "stage": "trial",
                    "title": "Reminder test",
                    "emotion": -2,
                    "arms": [{"name": "sms", "percent": 50}, {"name": "push", "percent": 50}],
                },
                {
                    "id": "text",
                    "kind": "send",
                    "stage": "trial",
                    "channel": "sms",
                    "content": {"body": "Your trial"},
                    "emotion": -1,
                },
                {
                    "id": "nudge",
                    "kind": "send",
                    "stage": "trial",
                    "channel": "push",
                    "content": {"body": "Your trial"},
                },
                {"id": "cool", "kind": "wait", "stage": "trial", "duration": "PT1H"},
                {
                    "id": "buy",
                    "kind": "wait_for_event",
                    "stage": "purchase",
                    "event": "purchased",
                    "timeout": "P3D",
                    "emotion": 1,
                },
                {"id": "won", "kind": "goal", "stage": "purchase", "emotion": 2},
                {"id": "lost", "kind": "exit", "stage": "purchase", "emotion": -1},
            ],
            "edges": [
                {"id": f"e_{source}_{target}", "source": source, "target": target, "label": label}
                for source, target, label in [
                    ("entry", "mail", None),
                    ("mail", "pause", None),
                    ("pause", "ab", None),
                    ("ab", "text", "sms"),
                    ("ab", "nudge", "push"),
                    ("text", "cool", None),
                    ("nudge", "cool", None),
                    ("cool", "buy", None),
                    ("buy", "won", "event"),
                    ("buy", "lost", "timeout"),
                ]
            ],
            "settings": {"goal_event": "purchased"},
        }
    )


# How long runs take to move from Sign up to Trial, and from Trial to Purchase, in hours.
TO_TRIAL_HOURS = (0.2, 1.5, 3.0, 8.0, 30.0)
TO_PURCHASE_HOURS = (0.5, 2.0, 5.0, 20.0, 50.0)


def story_run(index: int, entered: float) -> Run:
    """The ``index``-th customer of the story, entering ``entered`` hours after the start.

    By ``index % 10``: 0-1 leave in Sign up, 2 still waits there, 3-4 leave in Trial, 5 still waits
    there, 6-8 buy, 9 loses interest in Purchase. Even indexes get the SMS arm, odd ones push; every
    third one's trial message fails, so the welcome mail is the last that reached them.
    """
    kind = index % 10
    t = entered
    mail = Message("mail", "email", MessageStatus.DELIVERED, t * H, (t + 0.05) * H)
    signup = [("entry", t), ("mail", t), ("pause", t)]
    if kind in (0, 1):
        return Run(path(*signup), ended=(t + 1) * H, messages=[mail])
    if kind == 2:
        return Run(path(*signup), messages=[mail])
    trial_at = t + TO_TRIAL_HOURS[index % len(TO_TRIAL_HOURS)]
    arm, node_id, channel = ("sms", "text", "sms") if index % 2 == 0 else ("push", "nudge", "push")
    status = MessageStatus.FAILED if index % 3 == 0 else MessageStatus.DELIVERED
    reminder = Message(
        node_id, channel, status, trial_at * H, trial_at * H if status is MessageStatus.DELIVERED else None
    )
    trial = [*signup, ("ab", trial_at), (node_id, trial_at), ("cool", trial_at)]
    if kind in (3, 4):
        return Run(path(*trial), ended=(trial_at + 2) * H, arm=arm, messages=[mail, reminder])
    if kind == 5:
        return Run(path(*trial), arm=arm, messages=[mail, reminder])
    purchase_at = trial_at + TO_PURCHASE_HOURS[index % len(TO_PURCHASE_HOURS)]
    if kind == 9:
        steps = path(*trial, ("buy", purchase_at), ("lost", purchase_at + 1))
        return Run(steps, ended=(purchase_at + 1) * H, arm=arm, messages=[mail, reminder])
    steps = path(*trial, ("buy", purchase_at), ("won", purchase_at + 0.5))
    done = (purchase_at + 0.5) * H
    return Run(steps, ended=done, goal=done, arm=arm, messages=[mail, reminder])


def as_of(run: Run, hours: float) -> Run:
    """The run as it stood ``hours`` after the start: later steps not taken yet, a later end or goal
    not reached yet, a later message not written yet, a later delivery still pending."""
    cutoff = hours * H
    steps = [(node_id, at) for node_id, at in run.steps if at <= cutoff]
    ended = run.ended if run.ended is not None and run.ended <= cutoff else None
    messages = [
        m
        if m.delivered is None or m.delivered <= cutoff
        else Message(m.node_id, m.channel, MessageStatus.PENDING, m.at)
        for m in run.messages
        if m.at <= cutoff
    ]
    return Run(steps, ended=ended, goal=run.goal if ended is not None else None, arm=run.arm, messages=messages)
