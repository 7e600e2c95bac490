"""The Tasks page's queue rows: a task closed as no longer needed shows why, and offers nothing to claim."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.store import TaskStatus
from engine.tasks import TaskView
from journey_builder.pages.tasks_state import _row

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def view(**changes: object) -> TaskView:
    base = TaskView(
        id=1,
        journey_id=1,
        journey_name="At-risk account save",
        node_id="csm_call",
        title="Call the admin",
        team="csm",
        channel="call",
        instructions="",
        outcomes=["reached", "no answer"],
        status=TaskStatus.OPEN,
        created_at=NOW,
        due_at=NOW,
        overdue=False,
        overdue_path_taken=False,
        assignee_id=None,
        assignee="",
        profile_id=1,
        customer="Ada",
        outcome=None,
        note="",
        completed_by=None,
        completed_at=None,
        run_waiting=True,
    )
    return base.model_copy(update=changes)


def test_a_closed_task_shows_its_reason_and_is_finished() -> None:
    closed = _row(
        view(status=TaskStatus.CANCELLED, note="the customer reached the goal", completed_at=NOW, run_waiting=False),
        user_id=1,
    )
    assert (closed.status, closed.finished) == ("closed: the customer reached the goal", True)
    done = _row(view(status=TaskStatus.DONE, outcome="reached", completed_at=NOW), user_id=1)
    assert (done.status, done.finished) == ("done: reached", True)
    assert (_row(view(overdue=True), user_id=1).status, _row(view(), user_id=1).finished) == ("overdue", False)
