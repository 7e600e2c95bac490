"""Every mutating way in, called as every role, against the permission table of DESIGN.md.

The UI half finds every state of the app and every event handler on it (no hand-kept list): each must
carry a rule, and each guarded handler is sent through Reflex's event processor as each role's browser
(a real session secret in the cookie) and as a signed-out one; it must run exactly when
``engine.accounts.permissions.PERMISSIONS`` allows the role its action, and a refused call must change nothing.
The API half calls every route under /api with each role's bearer token, and /v1 intake with live,
revoked and missing write keys.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import reflex as rx
from fastapi.routing import APIRoute
from reflex.state import BaseState
from reflex_base.event import EventHandler

import journey_builder
from engine.accounts import (
    PERMISSIONS,
    Action,
    allowed,
    create_api_token,
    create_user,
    create_write_key,
    identity_for,
    list_users,
    redeem_handoff,
    remove_user,
    revoke_write_key,
    set_role,
    sign_in,
)
from engine.api import create_api
from engine.journeys import create_journey
from engine.map.starters import load_template
from engine.store import Journey, Role, session_scope
from journey_builder import routes
from journey_builder.auth import SESSION_ROUTE, Kind, Rule, SessionState, rule_of
from journey_builder.canvas.canvas_state import CanvasState
from journey_builder.canvas.editor_state import EditorState
from journey_builder.pages.launch_state import LaunchState
from journey_builder.pages.sign_in import SignInState
from tests.integration.journey_harness import api_server
from tests.integration.reflex_events import Outcome, Tab, browser, run, sample_args

PASSWORD = "correct horse battery staple"


def app_states() -> list[type[BaseState]]:
    """Every state class defined in the app's modules, found by importing them all."""
    for module in pkgutil.walk_packages(journey_builder.__path__, prefix="journey_builder."):
        importlib.import_module(module.name)
    found, queue = [], list(rx.State.get_substates())
    while queue:
        cls = queue.pop()
        queue.extend(cls.get_substates())
        if cls.__module__.startswith("journey_builder."):
            found.append(cls)
    return sorted(found, key=lambda cls: cls.get_full_name())


def app_handlers() -> list[tuple[str, EventHandler]]:
    """(name, handler) of every event handler of every app state but Reflex's ``setvar`` (see its own test)."""
    return [
        (f"{cls.__module__}.{cls.__name__}.{name}", handler)
        for cls in app_states()
        for name, handler in sorted(cls.event_handlers.items())
        if name != "setvar"
    ]


def do(action: Action) -> Rule:
    return Rule(Kind.REQUIRES, action)


def view(action: Action) -> Rule:
    return Rule(Kind.VIEWING, action)


PUBLIC = Rule(Kind.PUBLIC)

# DESIGN.md's table as each handler applies it, written independently of the decorators, so a handler
# marked with the wrong action fails here. Names are below ``journey_builder.``; a new handler goes in too.
EXPECTED: dict[str, Rule] = {
    "auth.session.SessionState.sign_out": PUBLIC,
    "canvas.canvas_state.CanvasState.add_stage": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.connect_nodes": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.copy": view(Action.VIEW_JOURNEYS),
    "canvas.canvas_state.CanvasState.delete_items": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.delete_selected": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.delete_stage": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.drop_kind": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.export_json": view(Action.VIEW_JOURNEYS),
    "canvas.canvas_state.CanvasState.import_json": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.move_nodes": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.move_stage": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.paste": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.rename_stage": do(Action.EDIT_DRAFT),
    "canvas.canvas_state.CanvasState.tidy": do(Action.EDIT_DRAFT),
    "canvas.editor_state.EditorState.autosave": do(Action.EDIT_DRAFT),
    "canvas.editor_state.EditorState.focus_node": view(Action.VIEW_JOURNEYS),
    "canvas.editor_state.EditorState.load_journey": view(Action.VIEW_JOURNEYS),
    "canvas.editor_state.EditorState.redo": do(Action.EDIT_DRAFT),
    "canvas.editor_state.EditorState.select": view(Action.VIEW_JOURNEYS),
    "canvas.editor_state.EditorState.undo": do(Action.EDIT_DRAFT),
    "canvas.forecast_state.ForecastState.compare_live": view(Action.FORECAST),
    "canvas.forecast_state.ForecastState.hide": view(Action.VIEW_FORECASTS),
    "canvas.forecast_state.ForecastState.run": view(Action.VIEW_FORECASTS),
    "canvas.forecast_state.ForecastState.toggle": view(Action.VIEW_FORECASTS),
    "canvas.inspector_state.InspectorState.add_condition": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.add_item": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.add_typed": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.edit_item": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.insert_placeholder": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.remove_condition": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.remove_item": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_arms": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_channel": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_duration": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_emotion": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_match": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_severity": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_text": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_traits": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.set_trigger_type": do(Action.EDIT_DRAFT),
    "canvas.inspector_state.InspectorState.update_condition": do(Action.EDIT_DRAFT),
    "canvas.journey_state.JourneyState.archive": do(Action.EDIT_DRAFT),
    "canvas.journey_state.JourneyState.duplicate": do(Action.EDIT_DRAFT),
    "canvas.journey_state.JourneyState.open_rename": do(Action.EDIT_DRAFT),
    "canvas.journey_state.JourneyState.publish": do(Action.PUBLISH),
    "canvas.journey_state.JourneyState.rename": do(Action.EDIT_DRAFT),
    "canvas.journey_state.JourneyState.rename_dialog_changed": view(Action.VIEW_JOURNEYS),
    "canvas.journey_state.JourneyState.restore": do(Action.EDIT_DRAFT),
    "canvas.overlay_state.OverlayState.load": view(Action.VIEW_JOURNEYS),
    "canvas.overlay_state.OverlayState.refresh": view(Action.VIEW_JOURNEYS),
    "canvas.overlay_state.OverlayState.set_window": view(Action.VIEW_JOURNEYS),
    "canvas.overlay_state.OverlayState.toggle": view(Action.VIEW_JOURNEYS),
    "canvas.personas.PersonaState.add": do(Action.EDIT_DRAFT),
    "canvas.personas.PersonaState.remove": do(Action.EDIT_DRAFT),
    "canvas.personas.PersonaState.show": view(Action.VIEW_JOURNEYS),
    "canvas.personas.PersonaState.update": do(Action.EDIT_DRAFT),
    "pages.admin_audit.AuditState.apply": view(Action.VIEW_AUDIT),
    "pages.admin_audit.AuditState.clear": view(Action.VIEW_AUDIT),
    "pages.admin_audit.AuditState.load": view(Action.VIEW_AUDIT),
    "pages.admin_audit.AuditState.next_page": view(Action.VIEW_AUDIT),
    "pages.admin_audit.AuditState.previous_page": view(Action.VIEW_AUDIT),
    "pages.admin_keys.KeysState.create_api_token": do(Action.MANAGE_KEYS),
    "pages.admin_keys.KeysState.create_write_key": do(Action.MANAGE_KEYS),
    "pages.admin_keys.KeysState.dismiss_secret": view(Action.MANAGE_KEYS),
    "pages.admin_keys.KeysState.load": view(Action.MANAGE_KEYS),
    "pages.admin_keys.KeysState.revoke_api_token": do(Action.MANAGE_KEYS),
    "pages.admin_keys.KeysState.revoke_write_key": do(Action.MANAGE_KEYS),
    "pages.admin_users.UsersState.change_role": do(Action.MANAGE_USERS),
    "pages.admin_users.UsersState.create_user": do(Action.MANAGE_USERS),
    "pages.admin_users.UsersState.load": view(Action.MANAGE_USERS),
    "pages.admin_users.UsersState.remove_user": do(Action.MANAGE_USERS),
    "pages.admin_users.UsersState.set_password": do(Action.MANAGE_USERS),
    "pages.customers.CustomerState.open": view(Action.VIEW_CUSTOMERS),
    "pages.customers.CustomerState.pick": view(Action.VIEW_CUSTOMERS),
    "pages.customers.CustomerState.search": view(Action.VIEW_CUSTOMERS),
    "pages.customers.CustomerState.set_query": view(Action.VIEW_CUSTOMERS),
    "pages.dashboard_state.DashboardState.load": view(Action.VIEW_JOURNEYS),
    "pages.dashboard_state.DashboardState.refresh": view(Action.VIEW_JOURNEYS),
    "pages.first_run.FirstRunState.create_admin": PUBLIC,
    "pages.first_run.FirstRunState.open": PUBLIC,
    "pages.journey_kpis.JourneyKpisState.export_csv": view(Action.VIEW_JOURNEYS),
    "pages.journey_kpis.JourneyKpisState.load": view(Action.VIEW_JOURNEYS),
    "pages.journey_kpis.JourneyKpisState.set_first_day": view(Action.VIEW_JOURNEYS),
    "pages.journey_kpis.JourneyKpisState.set_last_day": view(Action.VIEW_JOURNEYS),
    "pages.journey_kpis.JourneyKpisState.set_version": view(Action.VIEW_JOURNEYS),
    "pages.journey_kpis.JourneyKpisState.set_window": view(Action.VIEW_JOURNEYS),
    "pages.journeys_state.JourneysState.archive": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.choose_start": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.create": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.dialog_changed": view(Action.VIEW_JOURNEYS),
    "pages.journeys_state.JourneysState.duplicate": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.keep_name": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.load": view(Action.VIEW_JOURNEYS),
    "pages.journeys_state.JourneysState.open_new": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.open_rename": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.rename": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.restore": do(Action.EDIT_DRAFT),
    "pages.journeys_state.JourneysState.set_status_filter": view(Action.VIEW_JOURNEYS),
    "pages.launch_forecast.LaunchForecastState.forecast_version": view(Action.FORECAST),
    "pages.launch_forecast.LaunchForecastState.launch_opened": view(Action.FORECAST),
    "pages.launch_state.LaunchState.launch": do(Action.LAUNCH),
    "pages.launch_state.LaunchState.load": view(Action.VIEW_JOURNEYS),
    "pages.launch_state.LaunchState.mark_in_doubt_sent": do(Action.RESUME),
    "pages.launch_state.LaunchState.pause": do(Action.PAUSE),
    "pages.launch_state.LaunchState.publish": do(Action.PUBLISH),
    "pages.launch_state.LaunchState.refresh": view(Action.VIEW_JOURNEYS),
    "pages.launch_state.LaunchState.resend_in_doubt": do(Action.RESUME),
    "pages.launch_state.LaunchState.resume": do(Action.RESUME),
    "pages.launch_state.LaunchState.send_proof": do(Action.TEST_SEND),
    "pages.launch_state.LaunchState.set_proof_customer": do(Action.TEST_SEND),
    "pages.launch_state.LaunchState.set_proof_node": do(Action.TEST_SEND),
    "pages.launch_state.LaunchState.set_proof_to": do(Action.TEST_SEND),
    "pages.launch_state.LaunchState.set_proof_values": do(Action.TEST_SEND),
    "pages.launch_state.LaunchState.set_resume_policy": do(Action.RESUME),
    "pages.launch_state.LaunchState.stop_drain": do(Action.STOP),
    "pages.launch_state.LaunchState.stop_now": do(Action.STOP),
    "pages.sign_in.SignInState.open": PUBLIC,
    "pages.tasks_state.TasksState.claim": do(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.complete": do(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.load": view(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.release": do(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.select": view(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.set_show": view(Action.WORK_TASKS),
    "pages.tasks_state.TasksState.set_team": view(Action.WORK_TASKS),
    "pages.sign_in.SignInState.sign_in": PUBLIC,
}


def guarded() -> list[tuple[str, EventHandler, Action]]:
    """Every handler that needs a signed-in user, with the action the table above gives it."""
    return [
        (name, handler, rule.action)
        for name, handler in app_handlers()
        if (rule := EXPECTED.get(name.removeprefix("journey_builder."))) and rule.action is not None
    ]


# --- the UI: every state event handler -------------------------------------------------------------------


def test_the_app_has_states_and_handlers_to_check() -> None:
    names = {name for name, _ in app_handlers()}

    assert len(app_states()) >= 15
    assert "journey_builder.pages.launch_state.LaunchState.launch" in names
    assert "journey_builder.canvas.editor_state.EditorState.autosave" in names


def test_every_event_handler_has_a_rule() -> None:
    missing = [name for name, handler in app_handlers() if rule_of(handler.fn) is None]

    assert missing == [], f"event handlers without @requires/@viewing/@public: {missing}"


def test_every_handler_carries_the_rule_the_table_gives_it() -> None:
    found = {name.removeprefix("journey_builder."): rule_of(handler.fn) for name, handler in app_handlers()}

    assert found == EXPECTED


def test_only_signing_in_and_out_and_the_first_run_are_public() -> None:
    public = sorted(name for name, rule in EXPECTED.items() if rule.kind is Kind.PUBLIC)

    assert public == [
        "auth.session.SessionState.sign_out",
        "pages.first_run.FirstRunState.create_admin",
        "pages.first_run.FirstRunState.open",
        "pages.sign_in.SignInState.open",
        "pages.sign_in.SignInState.sign_in",
    ]
    assert all(rule.action in PERMISSIONS for rule in EXPECTED.values() if rule.kind is not Kind.PUBLIC)


def test_setvar_reaches_only_guarded_setters() -> None:
    """Reflex's builtin ``setvar(name, value)`` calls ``set_<name>``; with auto setters off, only the app's own.

    Those are guarded, so coroutine functions: setvar calls them without awaiting, and their bodies never run.
    """
    for cls in app_states():
        for name, handler in cls.event_handlers.items():
            if name.startswith("set_") and name != "setvar":
                assert rule_of(handler.fn) is not None, f"{cls.__name__}.{name}"
                assert inspect.iscoroutinefunction(handler.fn) or inspect.isasyncgenfunction(handler.fn), name


@dataclass(frozen=True)
class World:
    journey_id: int
    secrets: dict[Role, str]


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    """The app's states read DATABASE_URL; one signed-in user per role and a journey to work on."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    secrets: dict[Role, str] = {}
    with session_scope() as session:
        for role in Role:
            create_user(session=session, email=f"{role.value}@example.com", password=PASSWORD, role=role, actor="test")
            secrets[role] = sign_in(session=session, email=f"{role.value}@example.com", password=PASSWORD)[1]
        journey = create_journey(session=session, doc=load_template("cart_abandonment"), created_by="test")
        assert journey.id is not None
    return World(journey_id=journey.id, secrets=secrets)


def page_of(handler: EventHandler, journey_id: int) -> str:
    """The page a handler is used on, opened first so an allowed call finds what it works on."""
    module = handler.fn.__module__
    if ".canvas." in module:
        return routes.journey_editor(journey_id)
    if module.endswith(".launch"):
        return routes.journey_launch(journey_id)
    if module.endswith(".journey_kpis"):
        return routes.journey_kpis(journey_id)
    return {
        "journey_builder.pages.customers": routes.CUSTOMERS,
        "journey_builder.pages.admin_users": routes.ADMIN_USERS,
        "journey_builder.pages.admin_keys": routes.ADMIN_KEYS,
        "journey_builder.pages.admin_audit": routes.ADMIN_AUDIT,
        "journey_builder.pages.dashboard": routes.DASHBOARD,
        "journey_builder.pages.tasks_state": routes.TASKS,
    }.get(module, routes.JOURNEYS_LIST)


async def call_as(new_tab: Any, secret: str | None, handler: EventHandler, journey_id: int) -> tuple[Outcome, bool]:
    """Open the handler's page in a new tab holding ``secret``, send the handler; did its state stay as it was?"""
    tab: Tab = new_tab()
    await tab.open(page_of(handler, journey_id), secret)
    before = await tab.state(handler.state)
    outcome = await tab.send(handler, **sample_args(handler))
    return outcome, await tab.state(handler.state) == before


def test_every_guarded_handler_runs_exactly_for_the_roles_the_table_allows(world: World) -> None:
    async def check() -> list[str]:
        wrong: list[str] = []
        async with browser() as new_tab:
            for name, handler, action in guarded():
                kind = EXPECTED[name.removeprefix("journey_builder.")].kind
                for role in Role:
                    outcome, unchanged = await call_as(new_tab, world.secrets[role], handler, world.journey_id)
                    expected = allowed(role, action)
                    if outcome.ran != expected:
                        wrong.append(f"{name} as {role.value}: ran={outcome.ran}, table says {expected}")
                    elif not expected:
                        if not unchanged:
                            wrong.append(f"{name} as {role.value}: refused but its state changed")
                        said = [text for level, text in outcome.toasts if level == "error"]
                        if not any(text.startswith("Not allowed: ") and role.value in text for text in said):
                            wrong.append(f"{name} as {role.value}: refused without saying why ({outcome.toasts})")
                        if (routes.JOURNEYS_LIST in outcome.redirects) != (kind is Kind.VIEWING):
                            wrong.append(f"{name} as {role.value}: redirects {outcome.redirects} for a {kind}")
        return wrong

    assert run(check()) == []


def test_a_signed_out_browser_runs_no_guarded_handler_and_is_sent_to_sign_in(world: World) -> None:
    async def check() -> list[str]:
        wrong: list[str] = []
        async with browser() as new_tab:
            for name, handler, _ in guarded():
                for secret in (None, "js_not-a-session"):
                    outcome, unchanged = await call_as(new_tab, secret, handler, world.journey_id)
                    page = page_of(handler, world.journey_id)
                    if outcome.ran or not unchanged:
                        wrong.append(f"{name} with cookie {secret!r}: ran={outcome.ran}, unchanged={unchanged}")
                    if routes.sign_in(page) not in outcome.redirects:
                        wrong.append(f"{name} with cookie {secret!r}: redirects {outcome.redirects}")
        return wrong

    assert run(check()) == []


def test_a_removed_users_open_session_is_refused_at_the_next_call(world: World) -> None:
    async def check() -> tuple[Outcome, Outcome]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_launch(world.journey_id), world.secrets[Role.MARKETER])
            with session_scope() as session:
                remove_user(session=session, user_id=marketer_id(), actor="admin@example.com")
            launch = await tab.send(LaunchState.event_handlers["launch"])
            load = await tab.send(LaunchState.event_handlers["refresh"])
            return launch, load

    launch, load = run(check())

    assert not launch.ran
    assert not load.ran
    assert ("info", "Your session has ended; sign in again.") in launch.toasts
    assert launch.redirects == [routes.sign_in(routes.journey_launch(world.journey_id))]
    with session_scope() as session:
        assert session.get(Journey, world.journey_id).status.value == "draft"  # type: ignore[union-attr]


def marketer_id() -> int:
    with session_scope() as session:
        return next(user.id for user in list_users(session=session) if user.role is Role.MARKETER)


def test_a_role_change_takes_effect_at_the_next_call(world: World) -> None:
    async def check() -> tuple[Outcome, Outcome]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_launch(world.journey_id), world.secrets[Role.MARKETER])
            before = await tab.send(LaunchState.event_handlers["publish"])
            with session_scope() as session:
                set_role(session=session, user_id=marketer_id(), role=Role.EXECUTIVE, actor="admin@example.com")
            after = await tab.send(LaunchState.event_handlers["publish"])
            shown = await tab.state(SessionState)
            assert shown["user_role"] == "executive"
            return before, after

    before, after = run(check())

    assert before.ran
    assert not after.ran
    assert ("error", "Not allowed: an executive may not publish.") in after.toasts


def test_the_journey_is_launched_by_a_marketer_and_not_by_a_designer(world: World) -> None:
    """The allowed path does the real thing: the status in the database is what tells."""

    def status() -> str:
        with session_scope() as session:
            journey = session.get(Journey, world.journey_id)
            assert journey is not None
            return journey.status.value

    async def as_role(role: Role) -> None:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_launch(world.journey_id), world.secrets[role])
            await tab.send(LaunchState.event_handlers["publish"])
            await tab.send(LaunchState.event_handlers["launch"])

    run(as_role(Role.DESIGNER))
    assert status() == "draft"
    run(as_role(Role.MARKETER))
    assert status() == "live"


def test_an_executive_cannot_change_the_draft_even_by_sending_the_canvas_events(world: World) -> None:
    def revision() -> int:
        with session_scope() as session:
            journey = session.get(Journey, world.journey_id)
            assert journey is not None
            return journey.revision

    async def drop_and_wait(role: Role) -> Outcome:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_editor(world.journey_id), world.secrets[role])
            outcome = await tab.send(CanvasState.event_handlers["drop_kind"], drop={"kind": "wait", "x": 40, "y": 40})
            # Besides the autosave the drop schedules, one sent directly, as a forged event would be.
            await tab.send(EditorState.event_handlers["autosave"], seq=1)
            return outcome

    start = revision()
    refused = run(drop_and_wait(Role.EXECUTIVE))
    assert not refused.ran
    assert revision() == start
    allowed_drop = run(drop_and_wait(Role.DESIGNER))
    assert allowed_drop.ran
    assert revision() > start


def test_signing_in_needs_the_right_password_and_opens_a_session(world: World) -> None:
    async def check() -> tuple[Outcome, dict[str, Any], Outcome]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.sign_in("/customers"))
            wrong = await tab.send(
                SignInState.event_handlers["sign_in"], form={"email": "marketer@example.com", "password": "nope"}
            )
            after_wrong = await tab.state(SignInState)
            right = await tab.send(
                SignInState.event_handlers["sign_in"], form={"email": "marketer@example.com", "password": PASSWORD}
            )
            return wrong, after_wrong, right

    wrong, after_wrong, right = run(check())

    assert after_wrong["error"] == "Email or password is wrong, or too many attempts: try again later."
    assert wrong.redirects == []
    assert not [event for event in wrong.events if event.name == "_call_script"]
    # The browser is told to trade a one-time code for the session cookie at the backend, then to open /customers.
    [script] = [str(event.payload["javascript_code"]) for event in right.events if event.name == "_call_script"]
    [code] = re.findall(r'"(jc_[\w-]+)"', script)
    assert SESSION_ROUTE in script
    assert '"/customers"' in script
    with session_scope() as session:
        secret = redeem_handoff(session=session, code=code)
        assert secret is not None
        identity = identity_for(session=session, secret=secret)
    assert identity is not None
    assert identity.role is Role.MARKETER


# --- the API: every route under /api, and intake under /v1 -----------------------------------------------

# What each route does, by the permission table's actions. A new route must be added here to pass.
ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    ("GET", "/api/journeys"): Action.VIEW_JOURNEYS,
    ("GET", "/api/journeys/{journey_id}"): Action.VIEW_JOURNEYS,
    ("POST", "/api/journeys"): Action.EDIT_DRAFT,
    ("PUT", "/api/journeys/{journey_id}/draft"): Action.EDIT_DRAFT,
    ("POST", "/api/journeys/{journey_id}/publish"): Action.PUBLISH,
    ("POST", "/api/journeys/{journey_id}/launch"): Action.LAUNCH,
    ("POST", "/api/journeys/{journey_id}/pause"): Action.PAUSE,
    ("POST", "/api/journeys/{journey_id}/resume"): Action.RESUME,
    ("POST", "/api/journeys/{journey_id}/stop"): Action.STOP,
    ("GET", "/api/journeys/{journey_id}/runs"): Action.VIEW_CUSTOMERS,
    ("GET", "/api/tasks"): Action.WORK_TASKS,
    ("POST", "/api/tasks/{task_id}/complete"): Action.WORK_TASKS,
}
INTAKE = ("/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias", "/v1/batch")
# Unsubscribe links are signed per customer and channel; they carry no key by design.
KEYLESS = {"/v1/unsubscribe"}


def api_routes(prefix: str) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in create_api().routes
        if isinstance(route, APIRoute) and route.path.startswith(prefix)
        for method in route.methods
    )


def test_every_api_route_is_in_the_table() -> None:
    assert api_routes("/api") == sorted(ROUTE_ACTIONS)


def test_every_intake_route_needs_a_write_key_or_is_known_to_need_none() -> None:
    assert {path for _, path in api_routes("/v1")} == set(INTAKE) | KEYLESS


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with api_server(db_url) as url, httpx.Client(base_url=url) as client:
        yield client


def body_for(method: str, path: str, journey_id: int) -> Any:
    doc = load_template("cart_abandonment").model_dump(mode="json")
    if path == "/api/journeys" and method == "POST":
        return doc
    if path.endswith("/complete"):
        return {"outcome": "reached", "note": ""}
    if path.endswith("/draft"):
        with session_scope() as session:
            journey = session.get(Journey, journey_id)
            assert journey is not None
            return {"map": doc, "expected_revision": journey.revision}
    return None


def test_every_api_route_answers_each_role_as_the_table_says(
    db_url: str, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with session_scope() as session:
        tokens = {role: create_api_token(session=session, name=role.value, role=role).secret for role in Role}
        journey_id = create_journey(session=session, doc=load_template("cart_abandonment")).id
    assert journey_id is not None
    wrong: list[str] = []
    for (method, path), action in ROUTE_ACTIONS.items():
        # No task 1 exists: a role allowed to complete tasks is told so (404), the others are refused first (403).
        url = path.replace("{journey_id}", str(journey_id)).replace("{task_id}", "1")
        anonymous = api.request(method, url, json=body_for(method, path, journey_id))
        if anonymous.status_code != 401:
            wrong.append(f"{method} {path} without a token: {anonymous.status_code}")
        for role in Role:
            response = api.request(
                method,
                url,
                json=body_for(method, path, journey_id),
                headers={"Authorization": f"Bearer {tokens[role]}"},
            )
            status = response.status_code
            expected_allowed = allowed(role, action)
            if expected_allowed and (status in (401, 403) or status >= 500):
                wrong.append(f"{method} {path} as {role.value}: {status} {response.text[:120]}")
            if not expected_allowed and status != 403:
                wrong.append(f"{method} {path} as {role.value}: {status}, expected 403")
    assert wrong == []


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_intake_takes_a_live_write_key_and_refuses_a_revoked_or_missing_one(
    db_url: str, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with session_scope() as session:
        live = create_write_key(session=session, name="live").secret
        revoked = create_write_key(session=session, name="revoked")
        revoke_write_key(session=session, key_id=revoked.id, actor="admin@example.com")
    bodies = {
        "/v1/track": {"userId": "u1", "event": "signed_up"},
        "/v1/identify": {"userId": "u1", "traits": {"plan": "pro"}},
        "/v1/page": {"userId": "u1", "name": "Home"},
        "/v1/screen": {"userId": "u1", "name": "Home"},
        "/v1/group": {"userId": "u1", "groupId": "acme"},
        "/v1/alias": {"userId": "u1", "previousId": "a1"},
        "/v1/batch": {"batch": [{"type": "track", "userId": "u1", "event": "signed_up"}]},
    }
    for path in INTAKE:
        content = json.dumps(bodies[path])
        headers = {"Content-Type": "application/json"}
        assert api.post(path, content=content, headers={**headers, **basic(live)}).status_code == 200, path
        refused = api.post(path, content=content, headers={**headers, **basic(revoked.secret)})
        assert refused.status_code == 401, path
        assert "revoked" in refused.json()["detail"]
        assert api.post(path, content=content, headers=headers).status_code == 401, path
