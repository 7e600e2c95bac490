"""Assignees are told by email, through the same outbox and email lane as customers' messages: a task assigned to
them, and a task of theirs gone overdue, reach a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from engine.accounts import create_user
from engine.delivery import dispatch_due
from engine.delivery.channels import ChannelSettings, build_senders
from engine.runtime import advance_due
from engine.store import HumanTask, Role, session_scope, utc_now
from engine.tasks import assign_task
from tests.engine_factories import (
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
)
from tests.engine_factories import track as tracked
from tests.integration.servers import SmtpTestServer


def deliver(db_url: str, smtp: SmtpTestServer, at: datetime) -> int:
    senders = build_senders(ChannelSettings(smtp_host=smtp.host, smtp_port=smtp.port))
    try:
        return dispatch_due(sessions=lambda: session_scope(db_url), senders=senders, now=lambda: at).delivered
    finally:
        for sender in senders.values():
            sender.close()


def test_the_assignee_gets_an_email_when_given_a_task_and_when_it_goes_overdue(session: Session, db_url: str) -> None:
    doc = journey_map(
        [
            event_trigger("signed_up"),
            node(
                "call",
                "human_task",
                title="Welcome call",
                team="care",
                instructions="Call them",
                due="PT1H",
                outcomes=["reached"],
            ),
            send("thanks"),
            node("bye", "exit", reason="nobody called"),
        ],
        [("entry", "call"), ("call", "thanks", "reached"), ("call", "bye", "overdue")],
    )
    publish_and_launch(session, doc)
    agent = create_user(session=session, email="casey@example.com", password="x" * 12, role=Role.AGENT, actor="t")
    now = utc_now()
    ingest_and_react(session=session, messages=[identify("ada"), tracked("ada", "signed_up")], now=now)
    task = session.execute(select(HumanTask)).scalar_one()
    assign_task(session=session, task_id=task.id or 0, assignee_id=agent.user_id, actor="lead@example.com", now=now)
    session.commit()

    with SmtpTestServer() as smtp:
        assert deliver(db_url, smtp, now) == 1
        overdue = now + timedelta(hours=1, seconds=1)
        with session_scope(db_url) as later:
            advance_due(session=later, now=overdue)
        assert deliver(db_url, smtp, overdue) == 1
        received = {(mail.rcpt_tos, str(mail.message["Subject"])) for mail in smtp.messages}

    assert received == {
        (("casey@example.com",), f"Assigned to you: Welcome call (task {task.id})"),
        (("casey@example.com",), f"Overdue: Welcome call (task {task.id})"),
    }
