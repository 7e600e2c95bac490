"""``journey forecast``: the JSON is the forecast's own figures, the table reads as the map, and bad input is
refused naming what is wrong."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from engine.cli import main
from engine.forecast import forecast, forecast_summary
from engine.intake import ingest
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.store import utc_now
from tests.engine_factories import identify, track

NAME = "Cart abandonment (forecast cli)"


@pytest.fixture
def journey(session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """The cart starter, published, and two days of carts: one left, one bought."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    doc = load_template("cart_abandonment").model_copy(update={"name": NAME})
    stored = create_journey(session=session, doc=doc)
    assert stored.id is not None
    publish_journey(session=session, journey_id=stored.id)
    start = utc_now() - timedelta(days=2)
    cart = {"cart_url": "https://shop.example/c", "cart_total": 10, "item_count": 1}
    for offset, message in [
        (0, identify("ann", {"email": "ann@example.com", "phone": "+15550100"}, message_id="i-ann")),
        (1, identify("bob", {"email": "bob@example.com"}, message_id="i-bob")),
        (2, track("ann", "cart_abandoned", {"cart_id": "a", **cart}, message_id="t-ann")),
        (3, track("bob", "cart_abandoned", {"cart_id": "b", **cart}, message_id="t-bob")),
        (30, track("bob", "order_completed", {"cart_id": "b"}, message_id="o-bob")),
    ]:
        ingest(session=session, messages=[message], now=start + timedelta(minutes=offset))
    session.commit()
    return stored.id


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["forecast", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_json_is_the_forecasts_figures(journey: int, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    until = utc_now().replace(microsecond=0)
    status, out, _ = run(capsys, str(journey), "--version", "1", "--until", until.isoformat(), "--json")
    assert status == 0
    shown: dict[str, Any] = json.loads(out)
    expected = forecast(session=session, journey_id=journey, version=1, since=timedelta(days=7), until=until)
    assert shown == json.loads(json.dumps(forecast_summary(expected)))
    assert shown["forecast"] is True
    assert (shown["entered"], shown["goal_reached"]) == (2, {"low": 1, "high": 1})
    # Ann's reminders go out, held at most until quiet hours end; Bob ordered before any.
    assert {channel: f["sent"] for channel, f in shown["channels"].items()} == {"email": 1, "push": 1, "sms": 1}


def test_a_window_ending_now_ends_at_a_whole_second_that_until_makes_again(
    journey: int, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    """The map and launch control show the window's end to the second; given back as --until, it is the same
    window, so the command repeats the page's figures even while customers are waiting at the end."""
    made = forecast(session=session, journey_id=journey, version=1)
    assert made.until.microsecond == 0
    status, out, _ = run(capsys, str(journey), "--version", "1", "--until", made.until.isoformat(), "--json")
    assert status == 0
    assert json.loads(out) == json.loads(json.dumps(forecast_summary(made)))


def test_the_table_reads_as_the_map(journey: int, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, NAME)
    assert status == 0
    assert out.startswith(f"FORECAST of {NAME} (journey {journey}), the draft")
    assert "Email: your cart is saved" in out
    assert "would enter 2" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "yesterday"], "'yesterday' is not a window"),
        (["--since", "0d"], "longer than nothing"),
        (["--since", "400d"], "at most 92 days"),
        (["--version", "9"], "no published version 9"),
    ],
)
def test_bad_input_is_refused_naming_it(
    journey: int, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    status, _, err = run(capsys, str(journey), *arguments)
    assert status != 0
    assert message in err


def test_an_unknown_journey_is_named(journey: int, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "No such journey")
    assert status != 0
    assert "No such journey" in err
