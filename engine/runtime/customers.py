"""One customer as support and marketers look them up: search by part of a name, email, phone or id, and
one person's runs and timeline (what they did, the steps they took, what they were sent).

Test sends are never part of a customer's timeline: they went to whoever the marketer typed, not to the customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, String, cast, false, func, or_, select
from sqlmodel import Session, col

from engine.runtime.decisions import EndReason
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    Event,
    HumanTask,
    Journey,
    JourneyVersion,
    OutboxMessage,
    Profile,
    ProfileAlias,
    TaskStatus,
    Transition,
)

SEARCH_LIMIT = 20
TIMELINE_LIMIT = 100
# The traits a look-up matches on: what a caller says when asked who they are.
NAME_TRAITS = ("name", "first_name", "last_name")
CONTACT_TRAITS = ("email", "phone")
# Events in the same instant are shown in this order of kinds (newest first overall): what the customer did,
# then the step it moved them to, then what that step sent.
_SOURCE_RANK = {"event": 0, "step": 1, "message": 2, "run": 3, "task": 4}
# What the sandbox sender answers (engine/delivery/channels/sandbox.py): the message was stored, not sent.
SANDBOX_REASON_PREFIX = "sandbox"
SANDBOXED = "sandbox (not sent)"


class CustomerMatch(BaseModel):
    """One line of the pick list a search returns."""

    profile_id: int
    user_id: str | None
    name: str
    email: str
    phone: str


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    title: str
    detail: str = ""
    # Which table the item came from and its row id: the order of items at the same instant.
    source: str = "event"
    row_id: int = 0


class CustomerRun(BaseModel):
    enrollment_id: int
    journey_id: int
    journey_name: str
    status: EnrollmentStatus
    step_id: str | None
    # The card's title in the version the run is on (the id when the card has no title).
    step_title: str | None = None
    due_at: datetime | None
    entered_at: datetime
    end_reason: str | None
    failure: str | None


class CustomerView(BaseModel):
    profile_id: int
    user_id: str | None
    traits: dict[str, Any]
    consent: dict[str, bool]
    timezone: str | None
    runs: list[CustomerRun]
    timeline: list[TimelineItem]


def _trait(name: str) -> ColumnElement[str]:
    return func.lower(col(Profile.traits)[name].as_string())


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _display_name(traits: dict[str, Any]) -> str:
    if traits.get("name"):
        return _text(traits["name"])
    return " ".join(_text(traits[k]) for k in ("first_name", "last_name") if traits.get(k))


def search_customers(*, session: Session, query: str, limit: int = SEARCH_LIMIT) -> list[CustomerMatch]:
    """Customers whose name, email, phone or user id holds ``query`` (ignoring case), or whose profile id or
    anonymous id is ``query``: at most ``limit`` of them, most recently updated first.

    The substring match scans profiles (no index serves ``LIKE '%x%'``); the LIMIT bounds what is read back and
    the exact matches (user id, profile id, anonymous id) come first, through their indexes.
    """
    text = query.strip()
    if not text:
        return []
    needle = text.lower()
    alias = select(col(ProfileAlias.profile_id)).where(col(ProfileAlias.anonymous_id) == text)
    exact: list[ColumnElement[bool]] = [col(Profile.user_id) == text, col(Profile.id).in_(alias)]
    if text.isascii() and text.isdigit() and len(text) <= 18:
        exact.append(col(Profile.id) == int(text))
    partial = [
        func.lower(col(Profile.user_id)).contains(needle, autoescape=True),
        *(_trait(name).contains(needle, autoescape=True) for name in NAME_TRAITS + CONTACT_TRAITS),
    ]
    # A name typed whole ("ada lovelace") matches first and last name together.
    full_name = func.lower(
        func.coalesce(cast(col(Profile.traits)["first_name"].as_string(), String), "")
        + " "
        + func.coalesce(cast(col(Profile.traits)["last_name"].as_string(), String), "")
    )
    partial.append(full_name.contains(needle, autoescape=True) if " " in needle else false())
    is_exact = or_(*exact)
    rows = session.execute(
        select(col(Profile.id), col(Profile.user_id), col(Profile.traits))
        .where(or_(is_exact, *partial))
        .order_by(is_exact.desc(), col(Profile.updated_at).desc(), col(Profile.id).desc())
        .limit(limit)
    ).all()
    return [
        CustomerMatch(
            profile_id=profile_id,
            user_id=user_id,
            name=_display_name(traits or {}),
            email=_text((traits or {}).get("email")),
            phone=_text((traits or {}).get("phone")),
        )
        for profile_id, user_id, traits in rows
    ]


def find_customer(*, session: Session, query: str) -> CustomerView | None:
    """One person by user id, anonymous id or email (exactly): their runs and timeline."""
    text = query.strip()
    if not text:
        return None
    alias = select(col(ProfileAlias.profile_id)).where(col(ProfileAlias.anonymous_id) == text).scalar_subquery()
    profile_id = session.execute(
        select(col(Profile.id))
        .where(
            or_(
                col(Profile.user_id) == text, col(Profile.id) == alias, col(Profile.traits)["email"].as_string() == text
            )
        )
        .limit(1)
    ).scalar_one_or_none()
    return None if profile_id is None else customer_view(session=session, profile_id=profile_id)


def _titles(session: Session, version_ids: Iterable[int]) -> dict[int, tuple[dict[str, str], dict[str, str]]]:
    """Per version: (node id -> card title, stage id -> stage name), from the version's frozen map."""
    wanted = set(version_ids)
    if not wanted:
        return {}
    found: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
    for version_id, stored in session.execute(
        select(col(JourneyVersion.id), col(JourneyVersion.map)).where(col(JourneyVersion.id).in_(wanted))
    ):
        nodes = {str(n.get("id")): str(n.get("title") or n.get("id")) for n in stored.get("nodes", [])}
        stages = {str(s.get("id")): str(s.get("name") or s.get("id")) for s in stored.get("stages", [])}
        found[version_id] = (nodes, stages)
    return found


def _message_text(message: OutboxMessage) -> str:
    return "\n".join(part for part in (message.subject, message.body, message.url) if part)


def customer_view(*, session: Session, profile_id: int) -> CustomerView | None:
    """The customer's runs, and their timeline newest first (items at the same instant in a fixed order)."""
    profile = session.get(Profile, profile_id)
    if profile is None or profile.id is None:
        return None
    run_rows = session.execute(
        select(Enrollment, col(Journey.name))
        .join(Journey, col(Journey.id) == col(Enrollment.journey_id))
        .where(col(Enrollment.profile_id) == profile.id)
        .order_by(col(Enrollment.entered_at).desc(), col(Enrollment.id).desc())
    ).all()
    titles = _titles(session, {e.version_id for e, _ in run_rows})
    version_of = {e.id: e.version_id for e, _ in run_rows}

    def title(version_id: int | None, node_id: str | None) -> str | None:
        if node_id is None:
            return None
        return titles.get(version_id or 0, ({}, {}))[0].get(node_id, node_id)

    customer_runs = [
        CustomerRun(
            enrollment_id=e.id,
            journey_id=e.journey_id,
            journey_name=name,
            status=e.status,
            step_id=e.step_id,
            step_title=title(e.version_id, e.step_id),
            due_at=e.due_at,
            entered_at=e.entered_at,
            end_reason=e.end_reason,
            failure=e.failure,
        )
        for e, name in run_rows
    ]
    timeline: list[TimelineItem] = [
        TimelineItem(
            at=e.ended_at,
            kind="run:failed",
            title=f"{name}: the run failed",
            detail=e.failure or "",
            source="run",
            row_id=e.id,
        )
        for e, name in run_rows
        if e.end_reason == EndReason.FAILED and e.ended_at is not None
    ]
    for event in session.execute(
        select(Event)
        .where(col(Event.profile_id) == profile.id)
        .order_by(col(Event.occurred_at).desc(), col(Event.id).desc())
        .limit(TIMELINE_LIMIT)
    ).scalars():
        timeline.append(
            TimelineItem(
                at=event.occurred_at,
                kind=event.type,
                title=event.name or event.type,
                detail=", ".join(f"{k}={v}" for k, v in list(event.properties.items())[:6]),
                source="event",
                row_id=event.id or 0,
            )
        )
    for message in session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.profile_id) == profile.id, ~col(OutboxMessage.is_test))
        .order_by(col(OutboxMessage.id).desc())
        .limit(TIMELINE_LIMIT)
    ).scalars():
        version_id = version_of.get(message.enrollment_id or 0)
        timeline.append(
            TimelineItem(
                at=message.delivered_at or message.created_at,
                kind=f"message:{shown_status(message)}",
                title=f"{title(version_id, message.node_id)} ({message.channel})",
                detail=_message_text(message) + (f"\n— {message.reason}" if message.reason else ""),
                source="message",
                row_id=message.id or 0,
            )
        )
    if version_of:
        for transition in session.execute(
            select(Transition)
            .where(col(Transition.enrollment_id).in_(list(version_of)))
            .order_by(col(Transition.at).desc(), col(Transition.id).desc())
            .limit(2 * TIMELINE_LIMIT)
        ).scalars():
            stages = titles.get(transition.version_id or 0, ({}, {}))[1]
            arm = f", arm {transition.arm}" if transition.arm else ""
            timeline.append(
                TimelineItem(
                    at=transition.at,
                    kind="step",
                    title=f"entered {title(transition.version_id, transition.node_id)}",
                    detail=f"stage {stages.get(transition.stage_id or '', transition.stage_id)}{arm}",
                    source="step",
                    row_id=transition.id or 0,
                )
            )
    timeline += _task_items(session, profile.id)
    timeline.sort(key=lambda item: (item.at, _SOURCE_RANK[item.source], item.row_id), reverse=True)
    return CustomerView(
        profile_id=profile.id,
        user_id=profile.user_id,
        traits=profile.traits,
        consent=profile.consent,
        timezone=profile.timezone,
        runs=customer_runs,
        timeline=timeline,
    )


def _task_items(session: Session, profile_id: int) -> list[TimelineItem]:
    """The customer's tasks: each opened, and done with the outcome and note the person recorded, or closed as no
    longer needed (with why) when the run ended otherwise."""
    items: list[TimelineItem] = []
    for task in session.execute(
        select(HumanTask)
        .where(col(HumanTask.profile_id) == profile_id)
        .order_by(col(HumanTask.id).desc())
        .limit(TIMELINE_LIMIT)
    ).scalars():
        name = task.title or task.node_id
        team = f" for {task.team}" if task.team else ""
        items.append(
            TimelineItem(
                at=task.created_at,
                kind="task:opened",
                title=f"task opened: {name}{team}",
                detail=f"due {task.due_at:%Y-%m-%d %H:%M} UTC",
                source="task",
                row_id=task.id or 0,
            )
        )
        if task.completed_at is not None and task.status is TaskStatus.CANCELLED:
            items.append(
                TimelineItem(
                    at=task.completed_at,
                    kind="task:closed",
                    title=f"task closed: {name}: no longer needed",
                    detail=task.note,
                    source="task",
                    row_id=task.id or 0,
                )
            )
        elif task.completed_at is not None:
            items.append(
                TimelineItem(
                    at=task.completed_at,
                    kind="task:done",
                    title=f"task done: {name}: {task.outcome}",
                    detail=f"by {task.completed_by}" + (f"\n{task.note}" if task.note else ""),
                    source="task",
                    row_id=task.id or 0,
                )
            )
    return items


def shown_status(message: OutboxMessage) -> str:
    """The message's status as people read it: a message the sandbox took was not sent, so never "delivered"."""
    return message_status_label(message.status.value, message.reason)


def message_status_label(status: str, reason: str) -> str:
    """``status`` as shown, given the delivery's ``reason``: "sandbox (not sent)" for what the sandbox took."""
    if status == "delivered" and reason.startswith(SANDBOX_REASON_PREFIX):
        return SANDBOXED
    return status
