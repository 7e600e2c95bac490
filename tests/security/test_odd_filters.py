"""Odd filter values (dates that are not dates or lie out of range, ids that are not ids, days in the wrong
order, text the database refuses, values of the wrong type) sent to the audit log's and a journey's KPI
page's handlers get a toast naming what is wrong, and the page keeps working: nothing raises into Reflex's
"An error occurred" with an exception's text. The engine's side is in test_filter_parsing.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.accounts import create_user, sign_in
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.store import AuditEntry, Role, session_scope
from journey_builder import routes
from journey_builder.pages.admin_audit import AuditState
from journey_builder.pages.journey_kpis import JourneyKpisState
from tests.integration.reflex_events import Tab, browser, run

PASSWORD = "correct horse battery staple"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOO_BIG = "99999999999999999999999"


@pytest.fixture
def admin(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """An admin's session secret, a published journey, and a week of audit entries an hour apart."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    with session_scope() as session:
        create_user(session=session, email="admin@example.com", password=PASSWORD, role=Role.ADMIN, actor="test")
        secret = sign_in(session=session, email="admin@example.com", password=PASSWORD)[1]
        journey = create_journey(session=session, doc=load_template("cart_abandonment"), created_by="test")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id)
        for index in range(7 * 24):
            actor = "ann@example.com" if index % 2 else "bob@example.com"
            session.add(AuditEntry(at=START + timedelta(hours=index), actor=actor, action="pause", journey_id=7))
        return secret, journey.id


def drive(path: str, secret: str, calls: list[tuple[str, dict[str, Any]]], state: Any) -> list[dict[str, Any]]:
    """Open ``path``, then send each call by handler name; after each, the state's vars, the toasts and the
    error the handler raised (None when it raised nothing)."""

    async def go() -> list[dict[str, Any]]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(path, secret)
            seen = []
            for name, payload in calls:
                outcome = await tab.send(state.event_handlers[name], **payload)
                assert outcome.ran, name
                # Toast texts travel as JavaScript string literals (non-ASCII escaped); decoded, they read as shown.
                toasts = [(level, json.loads(f'"{text}"')) for level, text in outcome.toasts]
                seen.append({**(await tab.state(state)), "_toasts": toasts, "_error": outcome.error})
            return seen

    return run(go())


AUDIT_REFUSALS = [
    ({"since": "2024-13-45"}, "From (UTC): '2024-13-45' is not a date (YYYY-MM-DD)."),
    ({"until": "9999-99-99"}, "To (UTC): '9999-99-99' is not a date (YYYY-MM-DD)."),
    ({"since": "2026-03-05", "until": "2026-03-01"}, "The first day (2026-03-05) is after the last (2026-03-01)."),
    ({"journey": "1e999"}, "Journey: '1e999' is not a journey; choose one from the list."),
    ({"journey": "²"}, "Journey: '²' is not a journey; choose one from the list."),
    ({"journey": TOO_BIG}, f"Journey: '{TOO_BIG}' is not a journey; choose one from the list."),
    ({"actor": "ann\x00@example.com"}, "Actor: cannot hold a NUL character."),
    ({"actor": "a" * 201}, "Actor: at most 200 characters."),
    ({"since": 5}, "From (UTC): expected text."),
    ({"actor": {"x": 1}}, "Actor: expected text."),
]


def test_odd_audit_filters_are_refused_with_a_toast_naming_them_and_the_log_stays_as_it_was(
    admin: tuple[str, int],
) -> None:
    secret, _ = admin
    calls: list[tuple[str, dict[str, Any]]] = [("apply", {"form": {"actor": "ann@example.com"}})]
    calls += [("apply", {"form": {"actor": "ann@example.com", **form}}) for form, _ in AUDIT_REFUSALS]
    calls += [("apply", {"form": "not a form"}), ("apply", {"form": {"until": "9999-12-31"}}), ("next_page", {})]

    seen = drive(routes.ADMIN_AUDIT, secret, calls, AuditState)

    filtered, *refused, not_a_form, open_ended, second_page = seen
    assert [s["_error"] for s in seen] == [None] * len(seen)
    assert [s["_toasts"] for s in refused] == [[("error", message)] for _, message in AUDIT_REFUSALS]
    assert not_a_form["_toasts"] == [("error", "The filter form was not understood; nothing was changed.")]
    for state in (*refused, not_a_form):
        assert (state["actor"], state["since"], state["until"], state["journey"]) == ("ann@example.com", "", "", "any")
        assert state["rows"] == filtered["rows"]
    assert (open_ended["until"], open_ended["_toasts"], len(open_ended["rows"])) == ("9999-12-31", [], 50)
    assert (second_page["page"], len(second_page["rows"])) == (1, 50)


def test_odd_kpi_window_values_are_refused_with_a_toast_and_the_page_keeps_its_figures(
    admin: tuple[str, int],
) -> None:
    secret, journey_id = admin
    calls: list[tuple[str, dict[str, Any]]] = [
        ("set_window", {"value": "custom"}),
        ("set_window", {"value": "bogus"}),
        ("export_csv", {}),
        ("set_first_day", {"value": "2024-13-45"}),
        ("set_first_day", {"value": "0001-01-01"}),
        ("set_last_day", {"value": "9999-12-31"}),
        ("set_last_day", {"value": 5}),
        ("set_version", {"value": "1e999"}),
        ("set_version", {"value": "0"}),
        ("set_version", {"value": TOO_BIG}),
        ("set_first_day", {"value": "2100-01-01"}),
        ("set_first_day", {"value": "2020-01-01"}),
    ]

    seen = drive(routes.journey_kpis(journey_id), secret, calls, JourneyKpisState)

    custom, bogus, exported, bad_day, too_early, too_late, not_text, v_text, v_zero, v_huge, after, fixed = seen
    assert [s["_error"] for s in seen] == [None] * len(seen)
    assert [s["_toasts"] for s in (bogus, bad_day, too_early, too_late, not_text, v_text, v_zero, v_huge)] == [
        [("error", "Time window: 'bogus' is not one of 24h, 7d, 30d, all, custom.")],
        [("error", "First day: '2024-13-45' is not a date (YYYY-MM-DD).")],
        [("error", "First day: 0001-01-01 is outside 1970-01-01 to 2100-12-31.")],
        [("error", "Last day: 9999-12-31 is outside 1970-01-01 to 2100-12-31.")],
        [("error", "Last day: expected text.")],
        [("error", "Version: '1e999' is not a version number.")],
        [("error", "Version: there is no version 0.")],
        [("error", f"Version: there is no version {TOO_BIG}.")],
    ]
    # Each refused value is dropped: the page keeps the window it showed, and its figures.
    for state in (bogus, exported, bad_day, too_early, too_late, not_text, v_text, v_zero, v_huge):
        assert (state["window"], state["first_day"], state["last_day"], state["version"]) == (
            "custom",
            custom["first_day"],
            custom["last_day"],
            "all",
        )
        assert (state["problem"], state["not_found"], state["window_note"]) == ("", False, custom["window_note"])
    assert exported["_toasts"] == []
    # Days in the wrong order are kept (the other day is likely next), and the page says what to change.
    assert after["first_day"] == "2100-01-01"
    assert (
        after["problem"]
        == f"Choose another window: the first day (2100-01-01) is after the last ({custom['last_day']})"
    )
    assert after["_toasts"] == [("error", f"The first day (2100-01-01) is after the last ({custom['last_day']}).")]
    assert (fixed["problem"], fixed["_toasts"], fixed["window_note"].startswith("01 Jan 2020")) == ("", [], True)


def test_a_journey_id_too_big_for_the_database_is_no_such_journey(admin: tuple[str, int]) -> None:
    secret, _ = admin

    async def go() -> tuple[Any, dict[str, Any]]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(routes.journey_kpis(int(TOO_BIG)), secret)
            outcome = await tab.send(JourneyKpisState.event_handlers["load"])
            return outcome, await tab.state(JourneyKpisState)

    outcome, state = run(go())

    assert outcome.error is None
    assert state["not_found"] is True
