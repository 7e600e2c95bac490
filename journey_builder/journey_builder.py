"""The app: pages on their routes, the engine's HTTP API and the session cookie's routes mounted on the backend, the
engine's clock inside it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import reflex as rx

from engine.api import create_api
from engine.worker import Engine
from journey_builder import routes
from journey_builder.auth import SessionState, session_cookie_api
from journey_builder.canvas.editor_state import EditorState
from journey_builder.canvas.overlay_state import OverlayState
from journey_builder.components.layout import app_shell
from journey_builder.errors import unexpected_error
from journey_builder.pages.admin_audit import AuditState, audit_page
from journey_builder.pages.admin_keys import KeysState, keys_page
from journey_builder.pages.admin_users import UsersState, users_page
from journey_builder.pages.customers import CustomerState, customers_page
from journey_builder.pages.dashboard import dashboard_page
from journey_builder.pages.dashboard_state import DashboardState
from journey_builder.pages.editor import editor_page
from journey_builder.pages.first_run import FirstRunState, first_run_page
from journey_builder.pages.journey_kpis import JourneyKpisState, journey_kpis_page
from journey_builder.pages.journeys import journeys_page
from journey_builder.pages.journeys_state import JourneysState
from journey_builder.pages.launch import launch_page
from journey_builder.pages.launch_state import LaunchState
from journey_builder.pages.sign_in import SignInState, sign_in_page, sign_out_page
from journey_builder.pages.tasks import tasks_page
from journey_builder.pages.tasks_state import TasksState


@contextlib.asynccontextmanager
async def journey_engine() -> AsyncIterator[None]:
    """Run the engine's scheduler for as long as the backend runs (off when JOURNEY_ENGINE=off)."""
    if os.environ.get("JOURNEY_ENGINE", "on").strip().lower() == "off":
        yield
        return
    engine = Engine()
    engine.start()
    try:
        yield
    finally:
        # shutdown waits for a running tick to finish; the event loop must not wait with it.
        await asyncio.to_thread(engine.shutdown)


def launch_control_page() -> rx.Component:
    return app_shell(launch_page(), active="Journeys")


def customer_lookup_page() -> rx.Component:
    return app_shell(customers_page(), active="Customers")


def task_queue_page() -> rx.Component:
    return app_shell(tasks_page(), active="Tasks")


app = rx.App(
    stylesheets=["/styles.css"],
    # Each app wraps those before it: the cookie's routes answer /auth/..., the engine's /v1 and /api, Reflex the rest.
    api_transformer=[create_api(), session_cookie_api()],
    backend_exception_handler=unexpected_error,
)
app.register_lifespan_task(journey_engine)
app.add_page(journeys_page, route=routes.JOURNEYS_LIST, title="Journeys · Journey Builder", on_load=JourneysState.load)
app.add_page(
    editor_page,
    route=routes.JOURNEY_EDITOR,
    title="Journey map · Journey Builder",
    on_load=[EditorState.load_journey, OverlayState.load],
)
app.add_page(
    launch_control_page,
    route=routes.JOURNEY_LAUNCH,
    title="Launch control · Journey Builder",
    on_load=LaunchState.load,
)
app.add_page(
    journey_kpis_page, route=routes.JOURNEY_KPIS, title="Journey KPIs · Journey Builder", on_load=JourneyKpisState.load
)
app.add_page(dashboard_page, route=routes.DASHBOARD, title="Dashboard · Journey Builder", on_load=DashboardState.load)
app.add_page(
    customer_lookup_page, route=routes.CUSTOMERS, title="Customers · Journey Builder", on_load=CustomerState.open
)
app.add_page(task_queue_page, route=routes.TASKS, title="Tasks · Journey Builder", on_load=TasksState.load)
app.add_page(sign_in_page, route=routes.SIGN_IN, title="Sign in · Journey Builder", on_load=SignInState.open)
app.add_page(sign_out_page, route=routes.SIGN_OUT, title="Signing out · Journey Builder", on_load=SessionState.sign_out)
app.add_page(first_run_page, route=routes.FIRST_RUN, title="First run · Journey Builder", on_load=FirstRunState.open)
app.add_page(users_page, route=routes.ADMIN_USERS, title="Users · Journey Builder", on_load=UsersState.load)
app.add_page(keys_page, route=routes.ADMIN_KEYS, title="Keys and tokens · Journey Builder", on_load=KeysState.load)
app.add_page(audit_page, route=routes.ADMIN_AUDIT, title="Audit log · Journey Builder", on_load=AuditState.load)
