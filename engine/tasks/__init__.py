"""People's tasks in journeys: the queue, claiming and completing a task, and the customer's context handed over
with it. The pages, the HTTP API and the command line call these alike; the engine opens tasks as runs reach a
human-task card (:mod:`engine.runtime.walk`) and acts on them at their due time (:mod:`engine.runtime.due`).
"""

from engine.tasks.context import ContextMessage, ContextStep, EarlierTask, TaskContext, task_context
from engine.tasks.queue import TaskFilter, TaskView, list_tasks, task_teams, task_view
from engine.tasks.service import (
    TaskError,
    TaskInputError,
    TaskNotFoundError,
    assign_task,
    claim_task,
    complete_task,
    release_task,
)

__all__ = [
    "ContextMessage",
    "ContextStep",
    "EarlierTask",
    "TaskContext",
    "TaskError",
    "TaskFilter",
    "TaskInputError",
    "TaskNotFoundError",
    "TaskView",
    "assign_task",
    "claim_task",
    "complete_task",
    "list_tasks",
    "release_task",
    "task_context",
    "task_teams",
    "task_view",
]
