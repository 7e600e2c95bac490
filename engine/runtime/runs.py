"""What is happening inside a journey now, and to one customer: the launch-control queries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, literal, select
from sqlmodel import Session, col

from engine.runtime.customers import message_status_label
from engine.runtime.decisions import EndReason
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    JourneyVersion,
    MessageStatus,
    OutboxMessage,
    Profile,
)

RECENT = 50


class NodeCount(BaseModel):
    node_id: str
    waiting: int


class MessageView(BaseModel):
    id: int
    node_id: str
    channel: str
    recipient: str
    subject: str
    body: str
    status: MessageStatus
    # The status as people read it: "sandbox (not sent)" for what the sandbox took, never "delivered".
    shown_status: str
    reason: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    is_test: bool


class FailedRun(BaseModel):
    """A run the engine could not carry on, and why."""

    enrollment_id: int
    user_id: str | None
    profile_id: int
    stage_id: str | None
    failed_at: datetime | None
    reason: str


class RunOverview(BaseModel):
    waiting_by_node: list[NodeCount]
    in_flight: int
    ended: int
    # Of the ended runs, those that failed (also counted in ``ended``), and the latest of them.
    failed: int
    recent_failures: list[FailedRun]
    messages_by_status: dict[str, int]
    recent_messages: list[MessageView]


def versions(*, session: Session, journey_id: int) -> list[JourneyVersion]:
    return list(
        session.execute(
            select(JourneyVersion)
            .where(col(JourneyVersion.journey_id) == journey_id)
            .order_by(col(JourneyVersion.number).desc())
        ).scalars()
    )


def _message_view(message: OutboxMessage) -> MessageView:
    assert message.id is not None
    return MessageView(
        id=message.id,
        node_id=message.node_id,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        status=message.status,
        shown_status=message_status_label(message.status.value, message.reason),
        reason=message.reason,
        attempts=message.attempts,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
        is_test=message.is_test,
    )


def run_overview(*, session: Session, journey_id: int, recent: int = RECENT) -> RunOverview:
    waiting = session.execute(
        select(col(Enrollment.step_id), func.count())
        .where(col(Enrollment.journey_id) == journey_id, col(Enrollment.status) == EnrollmentStatus.WAITING)
        .group_by(col(Enrollment.step_id))
    ).all()
    by_status = session.execute(
        select(col(Enrollment.status), func.count())
        .where(col(Enrollment.journey_id) == journey_id)
        .group_by(col(Enrollment.status))
    ).all()
    counts = {status: count for status, count in by_status}
    messages = session.execute(
        select(col(OutboxMessage.status), func.count())
        .where(col(OutboxMessage.journey_id) == journey_id)
        .group_by(col(OutboxMessage.status))
    ).all()
    latest = session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.journey_id) == journey_id)
        .order_by(col(OutboxMessage.id).desc())
        .limit(recent)
    ).scalars()
    # The reason is written into the statement, not bound: a plan made for any value could not use the
    # partial index of failed runs.
    is_failed = col(Enrollment.end_reason) == literal(EndReason.FAILED.value, literal_execute=True)
    failed = (col(Enrollment.journey_id) == journey_id, is_failed)
    failures = session.execute(
        select(
            col(Enrollment.id),
            col(Profile.user_id),
            col(Enrollment.profile_id),
            col(Enrollment.stage_id),
            col(Enrollment.ended_at),
            col(Enrollment.failure),
        )
        .join(Profile, col(Profile.id) == col(Enrollment.profile_id))
        .where(*failed)
        .order_by(col(Enrollment.ended_at).desc(), col(Enrollment.id).desc())
        .limit(recent)
    ).all()
    return RunOverview(
        waiting_by_node=[NodeCount(node_id=step or "", waiting=n) for step, n in waiting],
        in_flight=counts.get(EnrollmentStatus.WAITING, 0),
        ended=counts.get(EnrollmentStatus.ENDED, 0),
        failed=session.execute(select(func.count()).select_from(Enrollment).where(*failed)).scalar_one(),
        recent_failures=[
            FailedRun(
                enrollment_id=run_id,
                user_id=user_id,
                profile_id=profile_id,
                stage_id=stage_id,
                failed_at=ended_at,
                reason=failure or "",
            )
            for run_id, user_id, profile_id, stage_id, ended_at, failure in failures
        ],
        messages_by_status={str(status): n for status, n in messages},
        recent_messages=[_message_view(m) for m in latest],
    )
