from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from engine.compiler import (
    BranchStep,
    Entry,
    ExitStep,
    GoalStep,
    Plan,
    PlanArm,
    SendStep,
    SplitStep,
    Step,
    UpdateProfileStep,
    WaitForEventStep,
    WaitStep,
)
from engine.map import Channel, Condition, ConditionSource, EventTrigger, MessageContent, Operator
from engine.runtime import (
    Customer,
    Ended,
    EndReason,
    GoalReached,
    NodeEntered,
    ResumeMode,
    SendMessage,
    SendSkipped,
    SplitAssigned,
    TraitsUpdated,
    Waiting,
    advance,
    after_wait,
    next_local_time,
    split_bucket,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_plan(*steps: Step) -> Plan:
    return Plan(
        journey_name="test",
        entry=Entry(
            node_id="t", stage="s1", trigger=EventTrigger(event="go"), first_step=steps[0].id if steps else None
        ),
        steps=steps,
        stage_order=("s1", "s2"),
    )


def customer(**traits: object) -> Customer:
    return Customer(enrollment_id=7, traits=traits, event={"cart_id": "c1"}, timezone="Europe/Paris")


def send(step_id: str, next_step: str | None = None) -> SendStep:
    return SendStep(
        id=step_id, stage="s1", channel=Channel.EMAIL, content=MessageContent(subject="s", body="b"), next=next_step
    )


def test_walk_stops_at_a_wait_with_its_due_time() -> None:
    plan = make_plan(
        send("mail", "wait"), WaitStep(id="wait", stage="s2", duration=timedelta(hours=1), next="sms"), send("sms")
    )

    result = advance(plan, start_at="mail", customer=customer(), now=NOW)

    assert [type(e) for e in result.effects] == [NodeEntered, SendMessage, NodeEntered]
    assert result.effects[2] == NodeEntered(node_id="wait", stage_id="s2", at=NOW)
    assert result.outcome == Waiting(step_id="wait", due_at=NOW + timedelta(hours=1))


def test_end_of_path_completes_the_run() -> None:
    plan = make_plan(send("mail"))

    result = advance(plan, start_at="mail", customer=customer(), now=NOW)

    assert result.outcome == Ended(reason=EndReason.COMPLETED)


def test_wait_for_event_records_event_and_correlation() -> None:
    plan = make_plan(
        WaitForEventStep(
            id="w",
            stage="s1",
            event="order_completed",
            correlate_on="cart_id",
            timeout=timedelta(hours=3),
            on_event="g",
            on_timeout="push",
        )
    )

    result = advance(plan, start_at="w", customer=customer(), now=NOW)

    assert result.outcome == Waiting(
        step_id="w", due_at=NOW + timedelta(hours=3), event="order_completed", correlate_on="cart_id"
    )
    step = plan.step("w")
    assert after_wait(step, event_arrived=True) == "g"
    assert after_wait(step, event_arrived=False) == "push"


def test_branch_follows_conditions_on_traits_and_event() -> None:
    branch = BranchStep(
        id="b",
        stage="s1",
        conditions=(
            Condition(field="plan", op=Operator.EQ, value="pro"),
            Condition(source=ConditionSource.EVENT, field="cart_id", op=Operator.EXISTS),
        ),
        if_true="yes",
        if_false="no",
    )
    plan = make_plan(branch, ExitStep(id="yes", stage="s1", reason="pro"), ExitStep(id="no", stage="s1"))

    pro = advance(plan, start_at="b", customer=customer(plan="pro"), now=NOW)
    free = advance(plan, start_at="b", customer=customer(plan="free"), now=NOW)

    assert pro.outcome == Ended(reason=EndReason.EXIT_NODE, detail="pro")
    assert [e.node_id for e in pro.effects if isinstance(e, NodeEntered)] == ["b", "yes"]
    assert [e.node_id for e in free.effects if isinstance(e, NodeEntered)] == ["b", "no"]


def test_split_is_deterministic_and_follows_percentages() -> None:
    split = SplitStep(
        id="ab", stage="s1", arms=(PlanArm(name="a", percent=50, next="x"), PlanArm(name="b", percent=50, next="x"))
    )
    plan = make_plan(split, GoalStep(id="x", stage="s1"))
    arms = []
    for enrollment_id in range(2_000):
        who = Customer(enrollment_id=enrollment_id, traits={})
        result = advance(plan, start_at="ab", customer=who, now=NOW)
        arms.append(next(e.arm for e in result.effects if isinstance(e, SplitAssigned)))
    again = advance(plan, start_at="ab", customer=Customer(enrollment_id=5, traits={}), now=NOW)

    assert 900 < arms.count("a") < 1_100
    assert next(e.arm for e in again.effects if isinstance(e, SplitAssigned)) == arms[5]
    assert 0 <= split_bucket(5, "ab") < 100


def test_holdout_arm_without_path_ends_the_run_unmessaged() -> None:
    split = SplitStep(id="ab", stage="s1", arms=(PlanArm(name="control", percent=100, holdout=True),))
    plan = make_plan(split)

    result = advance(plan, start_at="ab", customer=customer(), now=NOW)

    assert result.outcome == Ended(reason=EndReason.HOLDOUT)
    assert not any(isinstance(e, SendMessage) for e in result.effects)


def test_update_profile_changes_traits_seen_by_later_branches() -> None:
    plan = make_plan(
        UpdateProfileStep(id="u", stage="s1", set_traits=(("tier", "gold"),), next="b"),
        BranchStep(id="b", stage="s1", conditions=(Condition(field="tier", value="gold"),), if_true="g", if_false=None),
        GoalStep(id="g", stage="s2"),
    )

    result = advance(plan, start_at="u", customer=customer(), now=NOW)

    assert TraitsUpdated(node_id="u", traits={"tier": "gold"}) in result.effects
    assert GoalReached(node_id="g") in result.effects
    assert result.outcome == Ended(reason=EndReason.GOAL)


def test_resume_policy_skips_overdue_sends() -> None:
    plan = make_plan(send("mail", "wait"), WaitStep(id="wait", stage="s1", duration=timedelta(days=1)))

    late = advance(plan, start_at="mail", customer=customer(), now=NOW, resume_mode=ResumeMode.SEND_LATE)
    skipped = advance(plan, start_at="mail", customer=customer(), now=NOW, resume_mode=ResumeMode.SKIP_OVERDUE_SENDS)

    assert any(isinstance(e, SendMessage) for e in late.effects)
    assert not any(isinstance(e, SendMessage) for e in skipped.effects)
    assert any(isinstance(e, SendSkipped) for e in skipped.effects)
    assert isinstance(skipped.outcome, Waiting)


def test_a_corrupt_cycle_without_wait_stops_instead_of_spinning() -> None:
    plan = make_plan(send("a", "b"), send("b", "a"))

    result = advance(plan, start_at="a", customer=customer(), now=NOW)

    assert isinstance(result.outcome, Ended)
    assert result.outcome.reason is EndReason.CORRUPT_PLAN


def test_wait_until_local_time_uses_the_customers_zone() -> None:
    # 12:00 UTC is 13:00 in Paris in November: 09:00 local is tomorrow 08:00 UTC.
    assert next_local_time(NOW, time(9, 0), "Europe/Paris") == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert next_local_time(NOW, time(18, 0), "Europe/Paris") == datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert next_local_time(NOW, time(9, 0), "Not/AZone") == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    plan = make_plan(WaitStep(id="w", stage="s1", until_local_time=time(9, 0)))
    result = advance(plan, start_at="w", customer=customer(), now=NOW)
    assert result.outcome == Waiting(step_id="w", due_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
