"""The forecast against the live engine: the same week of events fed to the engine on a fresh database, and
replayed by a forecast on another, give the same counts per node, stage and channel; a forecast writes no row and
sends nothing, even with real providers configured."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.forecast import Forecast, ForecastError, forecast
from engine.journeys import create_journey, publish_journey
from engine.kpis import MetricsFilter, journey_overlay
from engine.store import MessageStatus, OutboxMessage, get_engine, metadata, session_scope, upgrade_database
from tests.engine_factories import publish_and_launch
from tests.integration.forecast_history import START, UNTIL, capped_starter, history, run_live, store_history
from tests.integration.servers import HttpTestServer, SmtpTestServer


def _database(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="module")
def live_and_forecast(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, Forecast, str, int]:
    folder = tmp_path_factory.mktemp("forecast")
    live_url = _database(folder, "live.db")
    with session_scope(live_url) as session:
        live_journey, _ = publish_and_launch(session, capped_starter())
    run_live(live_url, history(), until=UNTIL)

    replay_url = _database(folder, "replay.db")
    with session_scope(replay_url) as session:
        journey = create_journey(session=session, doc=capped_starter(), created_by="test")
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id, published_by="test")
        replay_journey = journey.id
    store_history(replay_url, history())
    with session_scope(replay_url) as session:
        result = forecast(session=session, journey_id=replay_journey, version=1, since=UNTIL - START, until=UNTIL)
    return live_url, live_journey, result, replay_url, replay_journey


def _messages(url: str, journey_id: int) -> Counter[tuple[str, str, str]]:
    with session_scope(url) as session:
        rows = session.execute(
            select(col(OutboxMessage.node_id), col(OutboxMessage.channel), col(OutboxMessage.status), func.count())
            .where(col(OutboxMessage.journey_id) == journey_id)
            .group_by(col(OutboxMessage.node_id), col(OutboxMessage.channel), col(OutboxMessage.status))
        ).all()
    return Counter({(node, channel, str(status)): n for node, channel, status, n in rows})


def test_the_history_has_the_outcomes_it_was_built_for(live_and_forecast: tuple[str, int, Forecast, str, int]) -> None:
    *_, result, _, _ = live_and_forecast
    nodes = {n.node_id: n for n in result.nodes}
    assert result.entered == 11
    assert result.goal_reached.low == 2
    assert result.goal_reached.high == 3, "the late-comer still waits at the window's end"
    assert nodes["wait_1h"].waiting == 1
    email = nodes["email_reminder"]
    assert email.held == {"consent": 1, "frequency cap": 1, "quiet hours": 1}
    assert email.reasons == {"opted out of email": 1, "frequency cap: 2 email message(s) per P1D": 1}
    # The night owl's email falls due at 21:30 in New York (02:30 UTC) and goes out at 08:00 there (13:00 UTC).
    assert (email.deferred, email.pending, email.sends_by_hour[2]) == (1, 0, 0)
    assert nodes["push_reminder"].sent_by_channel == {"push": 5, "email": 1}, "no-push gets the fallback email"
    # The SMS falls due 24 hours after the cart is left, at 07:30 in New York for most: quiet hours until 08:00.
    assert nodes["sms_last_call"].held == {"no address": 1, "quiet hours": 3}


def test_the_forecast_counts_what_the_live_engine_did(live_and_forecast: tuple[str, int, Forecast, str, int]) -> None:
    live_url, live_journey, result, _, _ = live_and_forecast
    with session_scope(live_url) as session:
        overlay = journey_overlay(
            session=session, metrics_filter=MetricsFilter(journey_id=live_journey, since=START, until=UNTIL)
        )
    live_nodes = {n.node_id: n for n in overlay.nodes}
    for node in result.nodes:
        live = live_nodes[node.node_id]
        assert (node.entries, node.customers, node.waiting) == (live.entries, live.customers, live.waiting), (
            node.node_id
        )
        assert (node.sent + node.pending, node.suppressed, node.skipped) == (live.sent, live.suppressed, live.skipped)
        assert node.pending == live.pending
    live_stages = {s.stage_id: s for s in overlay.stages}
    for stage in result.stages:
        live_stage = live_stages[stage.stage_id]
        assert (stage.entered, stage.moved_on, stage.dropped_off, stage.reached_goal, stage.in_flight) == (
            live_stage.entered,
            live_stage.moved_on,
            live_stage.dropped_off,
            live_stage.reached_goal,
            live_stage.in_flight,
        ), stage.stage_id
    assert (result.entered, result.goal_reached.low) == (overlay.goal.entered, overlay.goal.reached_goal)

    live_messages = _messages(live_url, live_journey)
    forecast_sent = Counter(
        {(n.node_id, channel, "delivered"): count for n in result.nodes for channel, count in n.sent_by_channel.items()}
    )
    assert forecast_sent == Counter({k: v for k, v in live_messages.items() if k[2] == MessageStatus.DELIVERED})
    live_held = Counter({k[0]: v for k, v in live_messages.items() if k[2] == MessageStatus.SUPPRESSED})
    assert live_held == Counter({n.node_id: n.suppressed for n in result.nodes if n.suppressed})
    by_channel = Counter()
    for node in result.nodes:
        by_channel.update(node.sent_by_channel)
    assert {c.channel: c.sent for c in result.channels} == dict(by_channel)


def _row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
    }


def test_a_forecast_writes_nothing_and_sends_nothing(
    live_and_forecast: tuple[str, int, Forecast, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    *_, replay_url, journey_id = live_and_forecast
    with SmtpTestServer() as smtp, HttpTestServer() as sms, HttpTestServer() as push:
        monkeypatch.setenv("JOURNEY_SMTP_HOST", smtp.host)
        monkeypatch.setenv("JOURNEY_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("JOURNEY_SMS_URL", f"http://127.0.0.1:{sms.port}/sms")
        monkeypatch.setenv("JOURNEY_PUSH_URL", f"http://127.0.0.1:{push.port}/push")
        with Session(get_engine(replay_url)) as session:
            before = _row_counts(session)
            result = forecast(session=session, journey_id=journey_id, since=UNTIL - START, until=UNTIL)
            assert not session.new
            assert not session.dirty
            assert not session.deleted
            session.commit()
            assert _row_counts(session) == before
        assert sum(c.sent for c in result.channels) > 0
        assert smtp.messages == []
        assert sms.requests == []
        assert push.requests == []
    assert (before["outbox_message"], before["enrollment"], before["transition"]) == (0, 0, 0)
    assert before["event"] > 0


def test_a_forecast_of_a_missing_version_says_which(live_and_forecast: tuple[str, int, Forecast, str, int]) -> None:
    *_, replay_url, journey_id = live_and_forecast
    with session_scope(replay_url) as session, pytest.raises(ForecastError, match="no published version 7"):
        forecast(session=session, journey_id=journey_id, version=7)
