"""The Tasks page's state: the queue under its filters, the selected task's context, claim, release, complete.

Every rule (who may claim, which outcomes a task offers, what moves the customer) is the engine's
(``engine.tasks``); this state shows what it returns and says what it refused.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.accounts import Action
from engine.store import TaskStatus, session_scope, utc_now
from engine.tasks import (
    TaskContext,
    TaskError,
    TaskFilter,
    TaskView,
    claim_task,
    complete_task,
    list_tasks,
    release_task,
    task_context,
    task_teams,
)
from journey_builder.auth import acting, requires, viewing

FILTERS = [f.value for f in TaskFilter]
ALL_TEAMS = "all teams"


@dataclasses.dataclass(frozen=True)
class TaskRow:
    id: int
    title: str
    customer: str
    journey: str
    team: str
    due: str
    assignee: str
    overdue: bool
    mine: bool
    status: str
    # Done or closed: nothing left to claim or release.
    finished: bool


@dataclasses.dataclass(frozen=True)
class PathRow:
    at: str
    kind: str
    title: str
    detail: str


@dataclasses.dataclass(frozen=True)
class MessageRow:
    at: str
    step: str
    channel: str
    status: str
    text: str


@dataclasses.dataclass(frozen=True)
class NoteRow:
    at: str
    title: str
    outcome: str
    note: str
    by: str


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _row(view: TaskView, user_id: int) -> TaskRow:
    if view.status is TaskStatus.CANCELLED:
        status = "closed: " + view.note
    elif view.outcome:
        status = "done: " + view.outcome
    else:
        status = "overdue" if view.overdue else "open"
    return TaskRow(
        id=view.id,
        title=view.title,
        customer=view.customer,
        journey=view.journey_name,
        team=view.team or "—",
        due=_when(view.due_at),
        assignee=view.assignee or "unclaimed",
        overdue=view.overdue,
        mine=view.assignee_id == user_id,
        status=status,
        finished=view.status is not TaskStatus.OPEN,
    )


class TasksState(rx.State):
    show: str = TaskFilter.OPEN.value
    team: str = ALL_TEAMS
    teams: list[str] = rx.field(default_factory=list)
    rows: list[TaskRow] = rx.field(default_factory=list)
    # The selected task and its context (0: none selected).
    selected: int = 0
    title: str = ""
    customer: str = ""
    journey: str = ""
    step: str = ""
    stage: str = ""
    channel: str = ""
    instructions: str = ""
    due: str = ""
    assignee: str = ""
    claimed_by_me: bool = False
    unclaimed: bool = True
    done: str = ""
    # Why a task was closed without an outcome (its customer's run ended otherwise); empty for any other task.
    closed: str = ""
    late_note: str = ""
    traits: list[str] = rx.field(default_factory=list)
    consent: str = ""
    entry: str = ""
    path: list[PathRow] = rx.field(default_factory=list)
    messages: list[MessageRow] = rx.field(default_factory=list)
    earlier: list[NoteRow] = rx.field(default_factory=list)
    outcomes: list[str] = rx.field(default_factory=list)

    def _refresh(self) -> None:
        me = acting()
        now = utc_now()
        with session_scope() as session:
            views = list_tasks(
                session=session,
                now=now,
                show=TaskFilter(self.show),
                user_id=me.user_id,
                team=None if self.team == ALL_TEAMS else self.team,
            )
            # The team chosen stays on offer once its last open task is done, so the filter keeps showing it.
            chosen = {self.team} - {ALL_TEAMS}
            self.teams = [ALL_TEAMS, *sorted(set(task_teams(session=session)) | chosen)]
            context = task_context(session=session, task_id=self.selected, now=now) if self.selected else None
        self.rows = [_row(view, me.user_id) for view in views]
        self._show(context, me.user_id)

    def _show(self, context: TaskContext | None, user_id: int) -> None:
        if context is None:
            self.selected = 0
            return
        task = context.task
        self.title, self.customer, self.journey = task.title, context.customer, context.journey_name
        self.step, self.stage, self.channel = context.step, context.stage, task.channel or ""
        self.instructions, self.due = task.instructions, _when(task.due_at)
        self.assignee = task.assignee or "unclaimed"
        self.claimed_by_me, self.unclaimed = task.assignee_id == user_id, task.assignee_id is None
        self.done = f"{task.outcome} — by {task.completed_by}, {_when(task.completed_at)}" if task.outcome else ""
        cancelled = task.status is TaskStatus.CANCELLED
        self.closed = f"{task.note} — {_when(task.completed_at)}. Nothing is left to record." if cancelled else ""
        self.late_note = (
            "Overdue: the journey already went on by its overdue path. What you record is kept, and moves nobody."
            if task.overdue_path_taken
            else (
                "The customer's run no longer waits on this task."
                if not task.run_waiting and not task.outcome and not cancelled
                else ""
            )
        )
        self.traits = [f"{key}: {value}" for key, value in sorted(context.traits.items())]
        self.consent = (
            ", ".join(
                f"{channel}: {'yes' if given else 'opted out'}" for channel, given in sorted(context.consent.items())
            )
            or "no opt-outs"
        )
        self.entry = ", ".join(f"{key}={value}" for key, value in context.entry_properties.items())
        self.path = [PathRow(_when(p.at), p.kind, p.title, p.detail) for p in context.path]
        self.messages = [
            MessageRow(_when(m.at), m.step, m.channel, m.status, m.subject or m.body[:200]) for m in context.messages
        ]
        self.earlier = [
            NoteRow(_when(t.at), t.title, t.outcome or "", t.note, t.by or "") for t in context.earlier_tasks
        ]
        self.outcomes = list(task.outcomes)

    @rx.event
    @viewing(Action.WORK_TASKS)
    def load(self) -> None:
        """The page's on_load: the queue as filtered, and the selected task's context."""
        self._refresh()

    @rx.event
    @viewing(Action.WORK_TASKS)
    def set_show(self, value: str | list[str]) -> rx.event.EventSpec | None:
        chosen = value[0] if isinstance(value, list) and value else value
        if chosen not in FILTERS:
            return rx.toast.error(f"Show: {chosen!r} is not one of {', '.join(FILTERS)}.")
        self.show = str(chosen)
        self._refresh()
        return None

    @rx.event
    @viewing(Action.WORK_TASKS)
    def set_team(self, value: str) -> rx.event.EventSpec | None:
        if not isinstance(value, str) or len(value) > 200:
            return rx.toast.error("Team: expected a team's name.")
        self.team = value or ALL_TEAMS
        self._refresh()
        return None

    @rx.event
    @viewing(Action.WORK_TASKS)
    def select(self, task_id: int) -> None:
        self.selected = task_id
        self._refresh()

    @rx.event
    @requires(Action.WORK_TASKS)
    def claim(self, task_id: int) -> rx.event.EventSpec | None:
        me = acting()
        try:
            with session_scope() as session:
                claim_task(session=session, task_id=task_id, user_id=me.user_id, actor=me.email, now=utc_now())
        except TaskError as error:
            return rx.toast.error(str(error))
        self.selected = task_id
        self._refresh()
        return rx.toast.success("Claimed: the task is yours.")

    @rx.event
    @requires(Action.WORK_TASKS)
    def release(self, task_id: int) -> rx.event.EventSpec | None:
        me = acting()
        try:
            with session_scope() as session:
                release_task(session=session, task_id=task_id, user_id=me.user_id, role=me.role, actor=me.email)
        except TaskError as error:
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success("Released: the task is back in its team's queue.")

    @rx.event
    @requires(Action.WORK_TASKS)
    def complete(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        outcome, note = str(form.get("outcome", "")), str(form.get("note", ""))
        if not self.selected:
            return rx.toast.error("Choose a task first.")
        if not outcome:
            return rx.toast.error("Choose the outcome.")
        me = acting()
        try:
            with session_scope() as session:
                complete_task(
                    session=session, task_id=self.selected, outcome=outcome, note=note, actor=me.email, now=utc_now()
                )
        except TaskError as error:
            return rx.toast.error(str(error))
        self._refresh()
        return rx.toast.success(f"Recorded: {outcome}.")
