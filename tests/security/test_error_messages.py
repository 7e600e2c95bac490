"""No handler shows a person an exception's own text (SQL, a driver's message, a Python error): an
unforeseen failure reads as a plain message and goes to the log in full, and the customer look-up refuses
a search the database cannot run with a message saying why."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import reflex as rx
from reflex.istate.manager.memory import StateManagerMemory
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor

from engine.accounts import create_user, sign_in
from engine.store import Role, session_scope
from journey_builder import routes
from journey_builder.journey_builder import app
from journey_builder.pages.customers import CustomerState
from tests.integration.reflex_events import Outcome, Tab, _Sink, browser, run

SECRET_TEXT = 'relation "user_account" column password_hash = $1'


class FailingProbeState(rx.State):
    @rx.event
    def fail(self) -> None:
        raise RuntimeError(SECRET_TEXT)


@asynccontextmanager
async def app_processor() -> AsyncIterator[Tab]:
    """A tab whose events are processed as the app's backend processes them, exception handler included."""
    sink, manager = _Sink(), StateManagerMemory()
    processor = BaseStateEventProcessor(backend_exception_handler=app.backend_exception_handler).configure(
        state_manager=manager, event_namespace=sink
    )
    async with processor:
        yield Tab(processor, sink, manager)
    await manager.close()


def test_an_unforeseen_failure_shows_a_plain_message_and_logs_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Outcome:
        async with app_processor() as tab:
            return await tab.send(FailingProbeState.event_handlers["fail"])

    with caplog.at_level(logging.ERROR):
        outcome = run(go())

    shown = " ".join(str(event.payload) for event in outcome.events)
    assert [text for level, text in outcome.toasts if level == "error"] == [
        "That did not work: the server met an unexpected error, now in its log. Reload the page to go on."
    ]
    assert "password_hash" not in shown
    assert "RuntimeError" not in shown
    assert any(record.exc_info and SECRET_TEXT in str(record.exc_info[1]) for record in caplog.records)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def support_agent(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url"))
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    with session_scope() as session:
        create_user(session=session, email=email, password="correct horse battery staple", role=Role.ADMIN, actor="t")
        return sign_in(session=session, email=email, password="correct horse battery staple")[1]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ann\x00@example.com", "Search: a name, email, phone or id cannot hold a NUL character."),
        (42, "Search: expected text."),
        (["ann@example.com"], "Search: expected text."),
    ],
)
def test_a_customer_search_the_database_cannot_run_is_refused_with_a_message(
    support_agent: str, query: Any, message: str
) -> None:
    async def go() -> tuple[Outcome, Outcome, dict[str, Any]]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.CUSTOMERS, support_agent)
            typed = await tab.send(CustomerState.event_handlers["set_query"], value=query)
            searched = await tab.send(CustomerState.event_handlers["search"])
            return typed, searched, await tab.state(CustomerState)

    typed, searched, state = run(go())

    assert (typed.error, searched.error) == (None, None)
    toasts = [(level, json.loads(f'"{text}"')) for outcome in (typed, searched) for level, text in outcome.toasts]
    assert toasts == [("error", message)]
    assert state["found"] is False
    assert state["query"] == ("" if not isinstance(query, str) else query)
