"""Planning simulated customers: reproducible, true to the odds, fit for the intake, refusing what it cannot drive."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from engine.cli import main
from engine.compiler import Plan, compile_map
from engine.intake import parse_batch
from engine.journeys import create_journey, publish_journey, seed_starters
from engine.map import JourneyMap, TraitTrigger, WaitForEventNode, WaitNode, all_hold
from engine.map.starters import list_templates, load_template
from engine.runtime import launch_journey, next_local_time, pause_journey
from engine.simulation import (
    Choice,
    CustomerScript,
    Outcome,
    Progress,
    SimulationError,
    SimulationOptions,
    StageOdds,
    compress_waits,
    demo_map,
    ensure_demo_journey,
    find_target,
    parse_probability,
    parse_stage_odds,
    plan_simulation,
    resolve_odds,
    schedule,
)
from engine.store import Enrollment, EnrollmentStatus, JourneyStatus, JourneyVersion, WriteKey
from tests.engine_factories import NOW, ingest_and_react, journey_map, node, publish_and_launch, schedule_trigger

STARTERS = list_templates()


def starter(name: str) -> tuple[Plan, JourneyMap]:
    doc = load_template(name)
    plan = compile_map(doc).plan
    assert plan is not None
    return plan, doc


def simulate(name: str, customers: int = 50, seed: int = 1, **odds: StageOdds | float) -> tuple[CustomerScript, ...]:
    plan, doc = starter(name)
    resolved = resolve_odds(plan)
    resolved.update({stage: value for stage, value in odds.items() if isinstance(value, StageOdds)})
    return plan_simulation(plan, doc, SimulationOptions(customers=customers, seed=seed, odds=resolved, start=NOW))


# --- reproducible --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STARTERS)
def test_the_same_seed_plans_the_same_customers(name: str) -> None:
    assert simulate(name, seed=42) == simulate(name, seed=42)


def test_another_seed_plans_other_customers_with_other_ids() -> None:
    first, second = simulate("cart_abandonment", seed=1), simulate("cart_abandonment", seed=2)
    assert [s.messages for s in first] != [s.messages for s in second]
    ids = {p.message["messageId"] for s in first for p in s.messages}
    assert ids.isdisjoint(p.message["messageId"] for s in second for p in s.messages)
    assert len(ids) == sum(len(s.messages) for s in first), "every message has its own id"


def test_customers_arrive_in_order_within_the_window_and_act_in_time_order() -> None:
    plan, doc = starter("cart_abandonment")
    options = SimulationOptions(
        customers=300, seed=5, odds=resolve_odds(plan), arrivals_over=timedelta(hours=2), start=NOW
    )
    scripts = plan_simulation(plan, doc, options)
    arrivals = [s.arrival for s in scripts]
    assert arrivals == sorted(arrivals)
    # Two simulated hours at the default speed, 60: two real minutes.
    assert timedelta(0) <= arrivals[0]
    assert arrivals[-1] <= timedelta(minutes=2)
    assert arrivals[-1] - arrivals[0] > timedelta(minutes=1), "arrivals are spread over the window"
    for script in scripts:
        times = [p.at for p in script.messages]
        assert times == sorted(times)
        assert times[0] == script.arrival


# --- the odds ------------------------------------------------------------------------------------


def test_each_wait_converts_and_drops_at_its_stages_odds() -> None:
    abandon, recover = StageOdds(convert=0.2, drop=0.1), StageOdds(convert=0.3, drop=0.05)
    scripts = simulate("cart_abandonment", customers=4000, seed=9, abandon=abandon, recover=recover)
    at_step: dict[str, Counter[Choice]] = {}
    for script in scripts:
        for decision in script.decisions:
            at_step.setdefault(decision.step_id, Counter())[decision.choice] += 1
    for step, odds in (("wait_1h", abandon), ("wait_order_4h", recover), ("wait_order_24h", recover)):
        choices = at_step[step]
        total = sum(choices.values())
        assert total > 500
        assert choices[Choice.CONVERT] / total == pytest.approx(odds.convert, abs=0.04), step
        assert choices[Choice.DROP] / total == pytest.approx(odds.drop, abs=0.03), step
    # Everyone passes the first wait; only those who stayed reach the next one.
    assert sum(at_step["wait_1h"].values()) == 4000
    assert sum(at_step["wait_order_4h"].values()) == at_step["wait_1h"][Choice.STAY]
    outcomes = Counter(s.outcome for s in scripts)
    converted = 0.2 + 0.7 * (0.3 + 0.65 * 0.3)
    assert outcomes[Outcome.CONVERTED] / 4000 == pytest.approx(converted, abs=0.03)


def test_converting_at_a_plain_wait_sends_the_goal_event_and_dropping_sends_the_exit_event() -> None:
    scripts = simulate(
        "cart_abandonment", customers=200, abandon=StageOdds(convert=0.5, drop=0.5), recover=StageOdds(0, 0)
    )
    for script in scripts:
        last = script.messages[-1].message
        if script.outcome is Outcome.CONVERTED:
            assert last["event"] == "order_completed"
        else:
            assert script.outcome is Outcome.DROPPED
            assert last["event"] == "cart_emptied"
        # Inside the first hour, after the cart was abandoned.
        entered = next(p.at for p in script.messages if p.message.get("event") == "cart_abandoned")
        assert timedelta(0) < script.messages[-1].at - entered < timedelta(hours=1)


def test_nobody_acts_with_zero_odds_and_everyone_rides_the_reminders_to_the_end() -> None:
    scripts = simulate("cart_abandonment", customers=100, abandon=StageOdds(0, 0), recover=StageOdds(0, 0))
    assert {s.outcome for s in scripts} == {Outcome.FINISHED}
    assert {p.message.get("event") for s in scripts for p in s.messages} == {None, "cart_abandoned"}
    assert {d.step_id for d in scripts[0].decisions} == {"wait_1h", "wait_order_4h", "wait_order_24h"}


def test_a_customer_who_converts_at_a_wait_for_an_event_continues_on_its_event_path() -> None:
    scripts = simulate("support_escalation", customers=100, reconnect=StageOdds(1, 0), resolve=StageOdds(1, 0))
    for script in scripts:
        events = [p.message["event"] for p in script.messages if p.message["type"] == "track"]
        assert events == ["chat_disconnected", "callback_requested", "issue_resolved"]
        assert script.outcome is Outcome.CONVERTED
        conversation = {
            p.message["properties"]["conversation_id"] for p in script.messages if p.message["type"] == "track"
        }
        assert len(conversation) == 1, "every event names the conversation the waits correlate on"


def test_converting_before_a_branch_sends_the_traits_that_turn_it_towards_the_goal() -> None:
    plan, _ = starter("at_risk_save")
    branch = plan.step("score_recovered")
    scripts = simulate("at_risk_save", customers=100, re_engage=StageOdds(1, 0))
    for script in scripts:
        assert script.outcome is Outcome.CONVERTED
        last = script.messages[-1].message
        assert last["type"] == "identify"
        assert all_hold(branch.conditions, traits=last["traits"], event={})  # type: ignore[union-attr]


def test_odds_default_per_starter_and_can_be_overridden_for_every_stage_or_one() -> None:
    plan, _ = starter("cart_abandonment")
    defaults = resolve_odds(plan)
    assert list(defaults) == ["abandon", "recover"], "only stages holding a wait have odds"
    assert defaults["abandon"] != defaults["recover"]
    everywhere = resolve_odds(plan, convert=0.3)
    assert {o.convert for o in everywhere.values()} == {0.3}
    assert [o.drop for o in everywhere.values()] == [o.drop for o in defaults.values()]
    one = resolve_odds(plan, convert=0.3, stages={"recover": (0.5, None)})
    assert one["recover"] == StageOdds(0.5, defaults["recover"].drop)
    assert one["abandon"].convert == 0.3


def test_a_journey_that_is_no_starter_gets_generic_odds() -> None:
    doc = journey_map(
        [node("entry", "trigger", trigger={"type": "event", "event": "go"}), node("hold", "wait", duration="PT1H")],
        [("entry", "hold")],
    )
    plan = compile_map(doc).plan
    assert plan is not None
    assert resolve_odds(plan) == {"s1": StageOdds(convert=0.3, drop=0.05)}


# --- the messages --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STARTERS)
def test_every_planned_message_is_a_valid_intake_message(name: str) -> None:
    scripts = simulate(name, customers=100)
    messages = [{**p.message, "timestamp": NOW.isoformat()} for s in scripts for p in s.messages]
    body = json.dumps({"batch": messages}).encode()
    parsed = parse_batch(body)
    assert parsed.rejected == []
    assert len(parsed.messages) == len(messages)


@pytest.mark.parametrize("name", STARTERS)
def test_customers_identify_with_what_makes_them_reachable_then_enter(name: str) -> None:
    plan, _ = starter(name)
    for script in simulate(name, customers=30):
        first = script.messages[0].message
        assert first["type"] == "identify"
        traits = first["traits"]
        assert traits["email"].endswith("@example.com")
        assert traits["phone"].startswith("+1")
        assert traits["phone"][5:9] == "5550"
        assert traits["timezone"]
        assert traits["first_name"]
        assert traits["consent"]["email"] is True
        trigger = plan.entry.trigger
        if isinstance(trigger, TraitTrigger):
            assert not all_hold(trigger.conditions, match=trigger.match, traits=traits, event={})
            entry = next(
                p.message for p in script.messages if p.message["type"] == "identify" and p is not script.messages[0]
            )
            assert all_hold(trigger.conditions, match=trigger.match, traits={**traits, **entry["traits"]}, event={})
        else:
            entry = next(p.message for p in script.messages if p.message["type"] == "track")
            assert entry["event"] == trigger.event  # type: ignore[union-attr]
            assert set(trigger.properties) <= set(entry["properties"])  # type: ignore[union-attr]


def test_the_cart_scripts_drive_the_engine_to_the_planned_outcomes(session: Session) -> None:
    """The scripts' events, ingested, end each run the way the script says: goal, exit, or still waiting."""
    _, doc = starter("cart_abandonment")
    publish_and_launch(session, doc)
    scripts = simulate("cart_abandonment", customers=120, seed=3)
    batch = parse_batch(json.dumps({"batch": [p.message for s in scripts for p in s.messages]}).encode()).messages
    result = ingest_and_react(session=session, messages=batch, now=NOW)
    assert result.accepted == len(batch)
    assert result.enrolled == 120
    runs = Counter(
        (status, reason)
        for status, reason in session.execute(select(col(Enrollment.status), col(Enrollment.end_reason)))
    )
    planned = Counter(s.outcome for s in scripts)
    assert runs[(EnrollmentStatus.ENDED, "goal")] == planned[Outcome.CONVERTED] > 0
    assert runs[(EnrollmentStatus.ENDED, "exit_criteria")] == planned[Outcome.DROPPED] > 0
    assert runs[(EnrollmentStatus.WAITING, None)] == planned[Outcome.FINISHED] > 0


# --- refusals ------------------------------------------------------------------------------------


def test_a_journey_that_is_not_live_is_refused_naming_it_and_its_status(session: Session) -> None:
    seed_starters(session=session)
    with pytest.raises(SimulationError, match=r"journey 1 \(Cart abandonment recovery\) is draft, not live"):
        find_target(session=session, reference="1")
    publish_journey(session=session, journey_id=1)
    launch_journey(session=session, journey_id=1, actor="test")
    assert find_target(session=session, reference="Cart abandonment recovery").journey_id == 1
    pause_journey(session=session, journey_id=1, actor="test")
    with pytest.raises(SimulationError, match=r"is paused, not live: resume it first \(journey resume 1\)"):
        find_target(session=session, reference="Cart abandonment recovery")


def test_an_unknown_or_ambiguous_journey_is_refused(session: Session) -> None:
    doc = load_template("trial_onboarding")
    with pytest.raises(SimulationError, match="there is no journey with id 7"):
        find_target(session=session, reference="7")
    create_journey(session=session, doc=doc)
    create_journey(session=session, doc=doc)
    with pytest.raises(SimulationError, match=r"2 journeys are named 'Trial onboarding \(14 days\)' \(ids 1, 2\)"):
        find_target(session=session, reference=doc.name)
    with pytest.raises(SimulationError, match="there is no journey named 'Nope'; live journeys: none"):
        find_target(session=session, reference="Nope")


def test_a_scheduled_journey_is_refused() -> None:
    doc = journey_map([schedule_trigger("0 9 * * 1"), node("hold", "wait", duration="PT1H")], [("entry", "hold")])
    plan = compile_map(doc).plan
    assert plan is not None
    with pytest.raises(SimulationError, match=r"enters customers on a schedule \(0 9 \* \* 1\)"):
        plan_simulation(plan, doc, SimulationOptions(customers=1, seed=1, odds=resolve_odds(plan), start=NOW))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StageOdds(convert=0.8, drop=0.3), "convert 0.8 + drop 0.3 is more than 1"),
        (lambda: StageOdds(convert=-0.1, drop=0), "convert must be a probability from 0 to 1"),
        (lambda: parse_probability("lots"), "not a probability: 'lots'"),
        (lambda: parse_probability("1.5"), "a probability is from 0 to 1, got 1.5"),
        (lambda: parse_stage_odds("recover"), "expected STAGE=CONVERT"),
        (lambda: parse_stage_odds("recover=,"), "expected STAGE=CONVERT"),
        (lambda: parse_stage_odds("recover=0.1,0.2,0.3"), "expected STAGE=CONVERT"),
        (
            lambda: resolve_odds(starter("cart_abandonment")[0], stages={"nowhere": (0.1, None)}),
            "has no stage 'nowhere'; its stages: browse, abandon, recover, purchase",
        ),
        (
            lambda: resolve_odds(starter("cart_abandonment")[0], stages={"browse": (0.1, None)}),
            "stage 'browse' of journey 'Cart abandonment recovery' has no wait",
        ),
        (
            lambda: resolve_odds(starter("cart_abandonment")[0], convert=0.9, drop=0.2),
            "stage 'abandon': convert 0.9 + drop 0.2",
        ),
        (lambda: SimulationOptions(customers=0, seed=1, odds={}, start=NOW), "customers must be from 1"),
        (lambda: SimulationOptions(customers=1, seed=1, odds={}, speed=0, start=NOW), "the speed must be more than 0"),
        (
            lambda: SimulationOptions(customers=1, seed=1, odds={}, arrivals_over=timedelta(-1), start=NOW),
            "cannot be negative",
        ),
    ],
)
def test_bad_options_give_clear_errors(make: object, message: str) -> None:
    with pytest.raises(SimulationError, match=re.escape(message)):
        make()  # type: ignore[operator]


def test_stage_odds_may_give_convert_drop_or_both() -> None:
    assert parse_stage_odds("recover=0.4") == ("recover", 0.4, None)
    assert parse_stage_odds(" recover = ,0.1") == ("recover", None, 0.1)
    assert parse_stage_odds("recover=0,1") == ("recover", 0.0, 1.0)


# --- the command line, before anything is sent --------------------------------------------------


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("JOURNEY_WRITE_KEY", raising=False)
    return db_url


def test_simulate_refuses_a_draft_journey_with_exit_1_and_creates_no_key(
    database: str, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed"]) == 0
    capsys.readouterr()
    assert main(["simulate", "Cart abandonment recovery", "--customers", "5"]) == 1
    err = capsys.readouterr().err
    assert "journey 1 (Cart abandonment recovery) is draft, not live" in err
    assert session.execute(select(func.count()).select_from(WriteKey)).scalar_one() == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--speed", "0"], "the speed must be more than 0"),
        (["--customers", "0"], "expected a whole number of at least 1, got '0'"),
        (["--over", "2 hours"], "is not an ISO 8601 duration"),
        (["--convert", "2"], "a probability is from 0 to 1, got 2"),
        (["--stage", "recover"], "expected STAGE=CONVERT"),
        (["--batch-size", "5000"], "a batch holds at most 500 events"),
    ],
)
def test_simulate_rejects_bad_options_with_exit_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "1", *arguments])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_simulate_names_the_stages_when_an_override_names_none_of_them(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["simulate", "1", "--stage", "checkout=0.5", "--write-key", "wk_x"]) == 2
    assert "has no stage 'checkout'; its stages: browse, abandon, recover, purchase" in capsys.readouterr().err


# --- the demo journey ----------------------------------------------------------------------------


def test_the_demo_journey_is_the_starter_with_its_waits_divided_by_the_speed() -> None:
    doc = demo_map("cart_abandonment", 60)
    waits = {n.id: n.duration for n in doc.nodes if isinstance(n, WaitNode)}
    timeouts = {n.id: n.timeout for n in doc.nodes if isinstance(n, WaitForEventNode)}
    assert waits == {"wait_1h": timedelta(minutes=1)}
    assert timeouts == {"wait_order_4h": timedelta(minutes=3), "wait_order_24h": timedelta(minutes=20)}
    assert doc.settings.quiet_hours is None
    assert doc.settings.frequency_cap is not None
    assert doc.settings.frequency_cap.window == timedelta(minutes=24)
    assert doc.name == "Cart abandonment recovery (demo, 60x faster)"
    assert compile_map(doc).ok
    assert (
        compress_waits(load_template("support_escalation"), 10_000).nodes != load_template("support_escalation").nodes
    )


def test_the_demo_cards_say_the_demos_own_times_with_productions_beside_them() -> None:
    doc = demo_map("cart_abandonment", 60)
    cards = {n.id: n for n in doc.nodes}

    assert cards["wait_1h"].title == "Wait 1 min (1 h in production)"
    assert isinstance(cards["wait_1h"], WaitNode)
    assert cards["wait_1h"].duration == timedelta(minutes=1)
    # Both order waits count from entry: 1 min of waiting, then 3 min, then 20 more.
    assert cards["wait_order_4h"].title == "Ordered within 4 min? (4 h in production)"
    assert cards["wait_order_24h"].title == "Ordered within 24 min? (24 h in production)"
    assert cards["sequence_over"].title == "No order after 24 min (24 h in production)"
    assert cards["wait_order_4h"].notes.startswith("Times out 4 min after entry (1 min wait + 3 min).")
    # The demo has no quiet hours: its note does not promise them, production's text still does.
    assert cards["wait_order_24h"].notes == (
        "Times out 24 min after entry. In production: Times out 24 hours after entry. "
        "Quiet hours hold the SMS until morning."
    )
    # What the storefront does is not the journey's timing: left as it is.
    assert cards["cart_abandoned"].notes == load_template("cart_abandonment").nodes[2].notes
    assert "30 minutes" in cards["cart_abandoned"].notes
    assert compile_map(doc).ok


def test_the_demo_journey_is_made_live_once_and_left_alone_when_paused(session: Session) -> None:
    first = ensure_demo_journey(session=session, actor="test")
    assert (first.created, first.published_version, first.launched) == (True, 1, True)
    assert first.journey.status is JourneyStatus.LIVE
    again = ensure_demo_journey(session=session, actor="test")
    assert (again.created, again.published_version, again.launched) == (False, None, False)
    assert again.journey.id == first.journey.id
    assert session.execute(select(func.count()).select_from(JourneyVersion)).scalar_one() == 1
    assert first.journey.id is not None
    pause_journey(session=session, journey_id=first.journey.id, actor="test")
    assert ensure_demo_journey(session=session, actor="test").journey.status is JourneyStatus.PAUSED


def test_the_demo_command_prints_the_id_and_fails_when_the_demo_was_paused(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert out == "1\n"
    assert "is live (created, published version 1, launched)" in err
    assert main(["pause", "1"]) == 0
    capsys.readouterr()
    assert main(["demo"]) == 1
    out, err = capsys.readouterr()
    assert out == "1\n"
    assert "is paused, so it takes no simulated customers" in err


# --- pacing and progress -------------------------------------------------------------------------


def test_the_speed_compresses_the_customers_pace_but_not_the_journeys_waits() -> None:
    plan, doc = starter("cart_abandonment")
    odds = resolve_odds(plan)

    def scripts(speed: float) -> tuple[CustomerScript, ...]:
        options = SimulationOptions(customers=100, seed=8, odds=odds, speed=speed, start=NOW)
        return plan_simulation(plan, doc, options)

    real, fast = scripts(1), scripts(60)
    assert [s.decisions for s in real] == [s.decisions for s in fast]
    for slow_script, fast_script in zip(real, fast, strict=True):
        assert fast_script.arrival.total_seconds() == pytest.approx(slow_script.arrival.total_seconds() / 60)
        slow_entry, fast_entry = (
            next(i for i, p in enumerate(script.messages) if p.message.get("event") == "cart_abandoned")
            for script in (slow_script, fast_script)
        )
        fast_browsing = fast_script.messages[fast_entry].at - fast_script.arrival
        slow_browsing = slow_script.messages[slow_entry].at - slow_script.arrival
        assert fast_browsing.total_seconds() == pytest.approx(slow_browsing.total_seconds() / 60), (
            "browsing before the entry is the customer's own pace"
        )
        after = [p.at - slow_script.messages[slow_entry].at for p in slow_script.messages[slow_entry:]]
        assert after == [p.at - fast_script.messages[fast_entry].at for p in fast_script.messages[fast_entry:]], (
            "inside the journey, customers act within its waits as the engine runs them"
        )


def test_the_schedule_sends_every_message_when_its_script_says_keeping_each_customers_order() -> None:
    scripts = simulate("cart_abandonment", customers=50)
    deliveries = schedule(scripts)
    assert len(deliveries) == sum(len(s.messages) for s in scripts)
    assert [d.due for d in deliveries] == sorted(d.due for d in deliveries)
    last = max(p.at for s in scripts for p in s.messages)
    assert deliveries[-1].due == last.total_seconds()
    for script in scripts:
        assert [d.message for d in deliveries if d.user_id == script.user_id] == [p.message for p in script.messages]


def test_progress_in_a_log_prints_one_line_per_tenth() -> None:
    stream = io.StringIO()
    progress = Progress(200, stream, live=False)
    for done in range(0, 201, 5):
        progress.show(done, "note")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "simulate:  10%  20/200 events  note"
    assert lines[-1].startswith("simulate: 100%  200/200 events")


def test_progress_on_a_terminal_redraws_one_line() -> None:
    stream = io.StringIO()
    progress = Progress(10, stream, live=True, width=10)
    progress.show(10, "done")
    progress.close()
    assert stream.getvalue() == "\r[##########] 100%  10/10 events  done\x1b[K\n"


def test_a_wait_until_a_time_of_day_lasts_until_then_in_the_customers_time_zone() -> None:
    doc = journey_map(
        [
            node("entry", "trigger", trigger={"type": "event", "event": "go"}),
            node("morning", "wait", until_local_time="09:00:00"),
            node("ask", "wait_for_event", stage="s2", event="clicked", timeout="PT1M"),
        ],
        [("entry", "morning"), ("morning", "ask")],
    )
    plan = compile_map(doc).plan
    assert plan is not None
    start = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)
    odds = {"s1": StageOdds(0, 0), "s2": StageOdds(1, 0)}
    for script in plan_simulation(plan, doc, SimulationOptions(customers=20, seed=4, odds=odds, start=start)):
        zone = script.messages[0].message["traits"]["timezone"]
        entered = next(p.at for p in script.messages if p.message.get("event") == "go")
        clicked = next(p.at for p in script.messages if p.message.get("event") == "clicked")
        morning = next_local_time(start + entered, datetime.strptime("09:00", "%H:%M").time(), zone) - start
        assert timedelta(seconds=6) <= clicked - morning <= timedelta(seconds=54), zone
