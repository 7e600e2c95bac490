"""Who may do what: the one table every mutating handler and API route consults.

Roles and their rights come from DESIGN.md: designers draw, marketers publish and run journeys,
executives only look, admins manage people and keys. An action missing from the table is
refused for everyone, so a new handler cannot slip through without a rule.
"""

from __future__ import annotations

from enum import StrEnum

from engine.accounts.access import AccessDeniedError
from engine.store import Role


class Action(StrEnum):
    VIEW_JOURNEYS = "view_journeys"
    EDIT_DRAFT = "edit_draft"
    PUBLISH = "publish"
    LAUNCH = "launch"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    TEST_SEND = "test_send"
    VIEW_CUSTOMERS = "view_customers"
    MANAGE_KEYS = "manage_keys"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    # Replaying a past window through a draft or any version (engine/forecast): reads much, writes nothing.
    FORECAST = "forecast"
    VIEW_FORECASTS = "view_forecasts"
    WORK_TASKS = "work_tasks"


PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.VIEW_JOURNEYS: frozenset(Role),
    Action.EDIT_DRAFT: frozenset({Role.DESIGNER, Role.ADMIN}),
    Action.PUBLISH: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.LAUNCH: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.PAUSE: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.RESUME: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.STOP: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.TEST_SEND: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.VIEW_CUSTOMERS: frozenset({Role.MARKETER, Role.ADMIN}),
    Action.MANAGE_KEYS: frozenset({Role.ADMIN}),
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    # Its own right, so reading who did what can be granted apart from changing who may do what.
    Action.VIEW_AUDIT: frozenset({Role.ADMIN}),
    Action.FORECAST: frozenset({Role.DESIGNER, Role.MARKETER, Role.ADMIN}),
    Action.VIEW_FORECASTS: frozenset(Role),
    # The task queue and the context of each task's customer: agents work it, marketers watch their journeys' tasks.
    Action.WORK_TASKS: frozenset({Role.AGENT, Role.MARKETER, Role.ADMIN}),
}


def allowed(role: Role, action: Action) -> bool:
    return role in PERMISSIONS.get(action, frozenset())


def require(role: Role, action: Action) -> None:
    if not allowed(role, action):
        article = "an" if role.value[0] in "aeiou" else "a"
        raise AccessDeniedError(f"{article} {role.value} may not {action.value.replace('_', ' ')}")
