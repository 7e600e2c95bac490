"""A failed run is seen: launch control counts it and, for those who may see customers, names it and says why;
the customer look-up shows the reason on the run and in the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.accounts import create_user, sign_in
from engine.runtime import advance_due
from engine.store import Role, session_scope
from journey_builder import routes
from journey_builder.pages.customers import CustomerState
from journey_builder.pages.launch_state import LaunchState
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
    track,
)
from tests.integration.reflex_events import browser, run

PASSWORD = "correct horse battery staple"


def test_launch_control_and_the_customer_look_up_show_a_failed_run_and_why(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    doc = journey_map(
        [
            event_trigger("go", properties=["d"]),
            node("hold", "wait", duration="PT1H"),
            send("digest", body='{{ event.d | date: "%b %d" }}', stage="s2"),
            node("later", "wait", stage="s2", duration="P1D"),
        ],
        [("entry", "hold"), ("hold", "digest"), ("digest", "later")],
    )
    secrets: dict[Role, str] = {}
    with session_scope() as session:
        for role in (Role.MARKETER, Role.EXECUTIVE):
            create_user(session=session, email=f"{role.value}@example.com", password=PASSWORD, role=role, actor="test")
            secrets[role] = sign_in(session=session, email=f"{role.value}@example.com", password=PASSWORD)[1]
        journey_id, _ = publish_and_launch(session, doc)
        messages = [identify("good"), track("good", "go", {"d": 1_700_000_000})]
        messages += [identify("poison"), track("poison", "go", {"d": -99999999999999})]
        ingest_and_react(session=session, messages=messages, now=NOW)
    with session_scope() as session:
        advance_due(session=session, now=NOW + timedelta(hours=2))

    async def pages() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with browser() as new_tab:
            marketer, executive = new_tab(), new_tab()
            await marketer.open(routes.journey_launch(journey_id), secrets[Role.MARKETER])
            await executive.open(routes.journey_launch(journey_id), secrets[Role.EXECUTIVE])
            shown = await marketer.state(LaunchState), await executive.state(LaunchState)
            await marketer.open(routes.CUSTOMERS, secrets[Role.MARKETER])
            await marketer.send(CustomerState.event_handlers["set_query"], value="poison")
            await marketer.send(CustomerState.event_handlers["search"])
            return *shown, await marketer.state(CustomerState)

    for_marketer, for_executive, customer = run(pages())

    assert (for_marketer["in_flight"], for_marketer["ended"], for_marketer["failed"]) == (1, 1, 1)
    [failure] = for_marketer["failures"]
    assert (failure.customer, failure.stage) == ("poison", "Second")
    assert "'digest' could not be rendered" in failure.reason
    # Executives see how many failed, not who.
    assert (for_executive["failed"], for_executive["failures"]) == (1, [])
    [run_row] = customer["runs"]
    assert (run_row.end_reason, run_row.failure) == ("failed", failure.reason)
    failed_items = [item.detail for item in customer["timeline"] if item.kind == "run:failed"]
    assert failed_items == [failure.reason]
