"""A forecast dealt out by customer to several processes gives exactly the figures of one process, on SQLite and
PostgreSQL: with split arms (drawn on run ids made from the customer), the frequency cap and quiet hours (per
customer), and events whose receipts are out of order across customers (the replay's clock is computed over all
the window's events before they are dealt out). Processes are forked from a process running no other thread and
started afresh (spawn) from one that does, as in the web server."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlmodel import col

from engine.forecast import PARALLEL_FROM, PROCESSES_SETTING, Forecast, ForecastError, forecast, process_count
from engine.intake import AnyMessage, ingest
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap
from engine.store import Event, session_scope
from tests.engine_factories import NOW, event_trigger, identify, journey_map, node, send, track
from tests.integration.forecast_history import capped_starter

M = timedelta(minutes=1)
SINCE = timedelta(days=3)


def _split_journey() -> JourneyMap:
    return journey_map(
        [
            event_trigger("cart_abandoned"),
            node("ab", "split", arms=[{"name": "a", "percent": 50}, {"name": "b", "percent": 50}]),
            node("a_wait", "wait", duration="PT1H"),
            send("a_email", body="Your cart {{ event.cart_id }}"),
            node("a_order", "wait_for_event", event="order_completed", correlate_on="cart_id", timeout="PT4H"),
            node("b_wait", "wait", duration="PT3H"),
            send("b_sms", "sms", body="Cart {{ event.cart_id }} still there"),
            node("won", "goal", stage="s2"),
        ],
        [
            ("entry", "ab"),
            ("ab", "a_wait", "a"),
            ("ab", "b_wait", "b"),
            ("a_wait", "a_email"),
            ("a_email", "a_order"),
            ("a_order", "won", "event"),
            ("b_wait", "b_sms"),
        ],
        name="Split (parts test)",
        goal_event="order_completed",
    )


def _history(customers: int) -> list[tuple[timedelta, AnyMessage]]:
    """Shoppers who identify, leave carts, sometimes order or empty them; some opted out of email or SMS."""
    rng = random.Random(5)
    events: list[tuple[timedelta, AnyMessage]] = []
    for i in range(customers):
        user = f"shopper-{i}"
        at = timedelta(minutes=rng.uniform(0, 60 * 60))
        consent = {"email": False} if i % 9 == 0 else {"sms": False} if i % 7 == 0 else {}
        traits = {"email": f"{user}@example.com", "phone": f"+1555{i:07d}", "consent": consent}
        events.append((at, identify(user, traits, message_id=f"id-{user}")))
        for cart in range(rng.choice([1, 1, 2, 3])):
            at += timedelta(minutes=rng.uniform(1, 300))
            cart_id = f"{user}-c{cart}"
            cart_properties = {"cart_id": cart_id, "cart_url": f"https://shop.example/{cart_id}", "cart_total": 42}
            left = track(user, "cart_abandoned", {**cart_properties, "item_count": 2}, message_id=f"{cart_id}-left")
            events.append((at, left))
            fate = rng.random()
            if fate < 0.3:
                at += timedelta(minutes=rng.uniform(5, 600))
                events.append((at, track(user, "order_completed", {"cart_id": cart_id}, message_id=f"{cart_id}-o")))
            elif fate < 0.4:
                at += timedelta(minutes=rng.uniform(5, 120))
                events.append((at, track(user, "cart_emptied", {"cart_id": cart_id}, message_id=f"{cart_id}-e")))
    return sorted(events, key=lambda pair: pair[0])


def _store(url: str, customers: int) -> None:
    """Stored as the intake stores them, with every tenth pair of neighbours received out of order: a request that
    took longer stores its events after a later one's."""
    events = _history(customers)
    for i in range(0, len(events) - 1, 10):
        events[i], events[i + 1] = events[i + 1], events[i]
    start = NOW - SINCE
    with session_scope(url) as session:
        for offset, message in events:
            ingest(session=session, messages=[message], now=start + offset)


def _published(url: str, doc: JourneyMap) -> int:
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=doc, created_by="test")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="test")
        return journey.id


def _forecast(url: str, journey_id: int, processes: int) -> Forecast:
    with session_scope(url) as session:
        return forecast(session=session, journey_id=journey_id, version=1, since=SINCE, until=NOW, processes=processes)


@contextmanager
def _another_thread() -> Iterator[None]:
    """A thread alive beside the test's, as in the web server: the parts are then spawned, not forked."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_parts_give_the_figures_of_one_process(own_database_url: str) -> None:
    url = own_database_url
    cart = _published(url, capped_starter())
    split = _published(url, _split_journey())
    _store(url, customers=90)
    with session_scope(url) as session:
        ids_and_times = session.execute(select(col(Event.id), col(Event.received_at)).order_by(col(Event.id))).all()
    assert any(later < earlier for (_, earlier), (_, later) in itertools.pairwise(ids_and_times))

    for journey_id in (cart, split):
        alone = _forecast(url, journey_id, processes=1)
        assert alone.entered > 50
        assert _forecast(url, journey_id, processes=3) == alone
    split_alone = _forecast(url, split, processes=1)
    arms = {arm.arm: arm.customers for arm in split_alone.arms}
    assert arms["a"], arms
    assert arms["b"], arms
    cart_alone = _forecast(url, cart, processes=1)
    email = cart_alone.node("email_reminder")
    assert email is not None
    assert email.held.get("consent"), email.held
    assert email.held.get("quiet hours"), email.held

    with _another_thread():
        assert _forecast(url, split, processes=2) == split_alone


def test_a_forecast_takes_one_process_for_a_small_store_and_more_for_a_large_one(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROCESSES_SETTING, "3")
    with session_scope(db_url) as session:
        assert process_count(session) == 1, "an empty store"
        ingest(session=session, messages=[track("u1", "go", message_id="first")], now=NOW)
        first = session.execute(select(col(Event.id))).scalar_one()
        row = {"profile_id": 1, "type": "track", "name": "go", "properties": {}, "occurred_at": NOW, "received_at": NOW}
        session.execute(insert(Event).values(id=first + PARALLEL_FROM, message_id="last", **row))
        assert process_count(session) == 3
        monkeypatch.setenv(PROCESSES_SETTING, "1")
        assert process_count(session) == 1
        session.rollback()


@pytest.mark.parametrize("setting", ["0", "two", "-1", "1.5"])
def test_a_setting_of_processes_that_is_no_count_is_refused_naming_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv(PROCESSES_SETTING, setting)
    with session_scope(db_url) as session, pytest.raises(ForecastError, match=PROCESSES_SETTING):
        process_count(session)


def test_an_in_memory_database_is_forecast_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESSES_SETTING, "4")
    with session_scope("sqlite://") as session:
        assert process_count(session) == 1
