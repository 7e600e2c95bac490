"""The forecast's own rules: windows read strictly, split arms, what a replay cannot know given as a range, and what
it cannot forecast refused with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from engine.forecast import ForecastError, forecast, parse_since
from engine.intake import ingest
from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap
from tests.engine_factories import NOW, event_trigger, identify, journey_map, node, schedule_trigger, send, track

H = timedelta(hours=1)


def _stored(session: Session, doc: JourneyMap) -> int:
    journey = create_journey(session=session, doc=doc)
    assert journey.id is not None
    publish_journey(session=session, journey_id=journey.id)
    return journey.id


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("7d", timedelta(days=7)),
        ("24h", H * 24),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("P3D", timedelta(days=3)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_a_window_is_read_as_people_write_it(text: str, span: timedelta) -> None:
    assert parse_since(text) == span


@pytest.mark.parametrize(
    ("text", "message"), [("week", "is not a window"), ("0h", "longer than nothing"), ("93d", "at most 92")]
)
def test_a_window_that_is_none_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(ForecastError, match=message):
        parse_since(text)


def test_an_event_nobody_did_in_the_window_is_a_range_and_the_waiting_widen_the_goal(session: Session) -> None:
    """Signed up, then a wait for a click no stored event carries: the replay sends everyone down the timeout path,
    so the click path is 0 to all of them; the last customer still waits at the end, so the goal is a range."""
    doc = journey_map(
        [
            event_trigger("signed_up"),
            node("clicked", "wait_for_event", event="email_clicked", timeout="PT2H"),
            node("won", "goal"),
            send("nudge"),
        ],
        [("entry", "clicked"), ("clicked", "won", "event"), ("clicked", "nudge", "timeout")],
    )
    journey_id = _stored(session, doc)
    stored = [(NOW - 10 * H + i * 3 * H, track(f"u{i}", "signed_up")) for i in range(4)]
    stored.append((NOW - 9 * H, track("u0", "purchased")))
    for at, message in sorted(stored, key=lambda pair: pair[0]):
        ingest(session=session, messages=[message], now=at)
    result = forecast(session=session, journey_id=journey_id, version=1, since=timedelta(days=1), until=NOW)

    wait = result.node("clicked")
    assert wait is not None
    assert (wait.entries, wait.waiting) == (4, 1)
    assert wait.event_path is not None
    assert (wait.event_path.low, wait.event_path.high) == (0, 3)
    assert (result.goal_reached.low, result.goal_reached.high) == (1, 2)
    assert any("'email_clicked'" in note for note in result.notes)


def test_split_arms_are_counted_as_the_engine_assigns_them(session: Session) -> None:
    doc = journey_map(
        [
            event_trigger("go"),
            node("ab", "split", arms=[{"name": "a", "percent": 50}, {"name": "b", "percent": 50}]),
            node("a_wait", "wait", duration="PT1H"),
            node("b_wait", "wait", duration="PT2H"),
        ],
        [("entry", "ab"), ("ab", "a_wait", "a"), ("ab", "b_wait", "b")],
    )
    journey_id = _stored(session, doc)
    ingest(session=session, messages=[track(f"u{i}", "go") for i in range(40)], now=NOW - H)
    result = forecast(session=session, journey_id=journey_id, version=1, since=timedelta(days=1), until=NOW)

    arms = {arm.arm: arm.customers for arm in result.arms}
    assert sum(arms.values()) == 40
    assert set(arms) == {"a", "b"}
    assert all(arms.values())


def test_a_journey_entered_on_a_schedule_is_refused_with_the_reason(session: Session) -> None:
    doc = journey_map([schedule_trigger("0 9 * * *"), send("hello")], [("entry", "hello")])
    journey_id = _stored(session, doc)
    with pytest.raises(ForecastError, match="on a schedule"):
        forecast(session=session, journey_id=journey_id, version=1, until=NOW)


def test_only_customers_who_do_the_entry_event_are_replayed_and_anyones_events_count_as_seen(
    session: Session,
) -> None:
    """Nobody but a customer who did the entry event in the window can enter: the others' events are not replayed.
    Their tracks still say what was done in the window: a wait for an event somebody did is not a range."""
    doc = journey_map(
        [
            event_trigger("signed_up"),
            node("bought", "wait_for_event", event="purchased", timeout="PT2H"),
            node("won", "goal"),
            send("nudge"),
        ],
        [("entry", "bought"), ("bought", "won", "event"), ("bought", "nudge", "timeout")],
    )
    journey_id = _stored(session, doc)
    stored = [
        (NOW - 10 * H, identify("newcomer", {"email": "newcomer@example.com"}, message_id="id-newcomer")),
        (NOW - 9 * H, track("newcomer", "signed_up")),
        (NOW - 8 * H, identify("regular", {"email": "regular@example.com"}, message_id="id-regular")),
        (NOW - 7 * H, track("regular", "purchased")),
    ]
    for at, message in stored:
        ingest(session=session, messages=[message], now=at)
    result = forecast(session=session, journey_id=journey_id, version=1, since=timedelta(days=1), until=NOW)

    assert (result.customers, result.events, result.entered) == (1, 2, 1)
    wait = result.node("bought")
    assert wait is not None
    assert wait.event_path is None, "somebody did 'purchased' in the window"
    assert not any("'purchased'" in note for note in result.notes)
