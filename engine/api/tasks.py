"""/api/tasks: the task queue and recording a task's outcome, so a helpdesk or CRM can close the tasks journeys
give people. The same service functions as the Tasks page; the bearer token's role is checked against the same
table (``work_tasks``)."""

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.accounts import Action
from engine.api.guards import MAX_DATABASE_ID, answer
from engine.store import NOTE_LENGTH, OUTCOME_LENGTH, utc_now
from engine.tasks import (
    TaskError,
    TaskFilter,
    TaskInputError,
    TaskNotFoundError,
    complete_task,
    list_tasks,
    task_view,
)

TaskId = Annotated[int, Path(ge=1, le=MAX_DATABASE_ID, description="a task's id")]


class Completion(BaseModel):
    outcome: str = Field(min_length=1, max_length=OUTCOME_LENGTH, description="One of the task's outcomes.")
    note: str = Field("", max_length=NOTE_LENGTH, description="What the person noted; kept with the outcome.")


def add_task_routes(
    api: FastAPI,
    *,
    sessions: Callable[[], Iterator[Session]],
    actor: Callable[[Action], Callable[..., str]],
    committed: Callable[[Session, dict[str, Any]], dict[str, Any]],
) -> None:
    session_dependency = Depends(sessions)
    worker = Depends(actor(Action.WORK_TASKS))

    @api.get("/api/tasks", tags=["tasks"])
    def tasks(
        session: Annotated[Session, session_dependency],
        _: Annotated[str, worker],
        show: TaskFilter = TaskFilter.OPEN,
        team: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[dict[str, Any]]:
        """Open, overdue or done tasks (of one team when given), soonest due first; ``mine`` needs a person and is
        the Tasks page's, so a token's ``mine`` is empty."""
        if team is not None and "\x00" in team:
            # PostgreSQL's text cannot hold NUL, even to compare: refused alike on both databases.
            raise HTTPException(422, "team: a team's name cannot hold a NUL character")
        found = list_tasks(session=session, now=utc_now(), show=show, team=team)
        return [view.model_dump(mode="json") for view in found]

    @api.post("/api/tasks/{task_id}/complete", tags=["tasks"])
    def complete(
        task_id: TaskId,
        body: Completion,
        session: Annotated[Session, session_dependency],
        who: Annotated[str, worker],
    ) -> dict[str, Any]:
        """Record the task's outcome and note. The customer's run takes that outcome's path at the engine's next
        tick if it still waits on the task (after a resume, if the journey is paused)."""
        now = utc_now()
        complete_task(session=session, task_id=task_id, outcome=body.outcome, note=body.note, actor=who, now=now)
        view = task_view(session=session, task_id=task_id, now=now)
        assert view is not None
        return committed(session, view.model_dump(mode="json"))

    api.add_exception_handler(TaskNotFoundError, answer(404))
    api.add_exception_handler(TaskInputError, answer(422))
    api.add_exception_handler(TaskError, answer(409))
