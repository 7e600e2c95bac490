"""Human tasks in the browser: an agent signs in, finds the task a journey gave their team, claims it, reads the
customer's context (where they are in the journey, what they were sent) and completes it with an outcome and a
note; the customer's timeline and the task card's figures on the map show it. A task whose customer reaches the goal
while it waits is closed: it shows under Done with the reason, and offers nothing to claim or complete.

    Arrive: entry -> tips (in-app) -> call (human task, team "care": reached / no answer, overdue) -> ...
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlmodel import col

from engine.journeys import archive_journey
from engine.map import JourneyMap
from engine.runtime import stop_journey
from engine.store import Enrollment, HumanTask, Profile, Role, TaskStatus, session_scope
from journey_builder import routes
from tests.engine_factories import identify, ingest_and_react, publish_and_launch, track

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
# Unique to this run, so no other live journey in the shared database enrolls this customer.
RUN = uuid.uuid4().hex[:8]
SIGNED_UP = f"task_signed_up_{RUN}"
TEAM = f"care-{RUN}"


def _node(node_id: str, kind: str, x: float, y: float, **fields: object) -> dict[str, object]:
    return {"id": node_id, "kind": kind, "stage": "arrive", "position": {"x": x, "y": y}, **fields}


def task_map() -> JourneyMap:
    edges = [
        ("entry", "tips", None),
        ("tips", "call", None),
        ("call", "thanks", "reached"),
        ("call", "sorry", "no answer"),
        ("call", "bye", "overdue"),
    ]
    return JourneyMap.from_dict(
        {
            "name": f"Care call {RUN}",
            "stages": [{"id": "arrive", "name": "Arrive", "order": 0}, {"id": "after", "name": "After", "order": 1}],
            "nodes": [
                _node("entry", "trigger", 40, 80, title="Signed up", trigger={"type": "event", "event": SIGNED_UP}),
                _node(
                    "tips",
                    "send",
                    40,
                    220,
                    title="In-app: getting started",
                    channel="in_app",
                    content={"body": "Three tips to get going, {{ profile.first_name }}"},
                ),
                _node(
                    "call",
                    "human_task",
                    40,
                    360,
                    title="Welcome call",
                    channel="voice",
                    team=TEAM,
                    instructions="Call {{ profile.first_name }} and ask what they want to get done first.",
                    due="P1D",
                    outcomes=["reached", "no answer"],
                ),
                {**_node("thanks", "goal", 360, 80, title="Onboarded"), "stage": "after"},
                {
                    **_node("sorry", "send", 360, 220, title="Email: sorry we missed you", channel="email"),
                    "stage": "after",
                    "content": {"subject": "We tried to call", "body": "Hello {{ profile.first_name }}"},
                },
                {**_node("bye", "exit", 360, 360, title="Nobody called"), "stage": "after"},
            ],
            "edges": [
                {"id": f"e_{source}_{target}", "source": source, "target": target, "label": label}
                for source, target, label in edges
            ],
            "settings": {"goal_event": f"task_onboarded_{RUN}"},
        }
    )


@pytest.fixture
def journey_id(e2e_database: str) -> Iterator[int]:
    with session_scope() as session:
        journey_id, _ = publish_and_launch(session, task_map())
        ingest_and_react(
            session=session,
            messages=[
                identify(f"grace-{RUN}", {"email": f"grace-{RUN}@example.com", "first_name": "Grace"}),
                track(f"grace-{RUN}", SIGNED_UP),
            ],
        )
    yield journey_id
    # Archived, never deleted (see tests/e2e/conftest.py): stopped first, as a live journey cannot be archived.
    with session_scope() as session:
        stop_journey(session=session, journey_id=journey_id, actor="e2e")
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


def test_an_agent_claims_reads_and_completes_a_task_and_the_timeline_and_map_show_it(
    signed_in_as: Callable[[Role], Page], page: Page, journey_id: int, artifacts: Path
) -> None:
    agent = signed_in_as(Role.AGENT)
    agent.set_viewport_size({"width": 1440, "height": 1100})
    agent.goto(routes.tasks())
    expect(agent.get_by_role("link", name="Tasks")).to_be_visible(timeout=TIMEOUT_MS)
    agent.screenshot(path=str(artifacts / "tasks_queue.png"), full_page=True)
    # An agent is offered no customer look-up and no admin, and cannot edit maps (checked on the server too).
    expect(agent.get_by_role("link", name="Customers")).to_have_count(0)

    agent.get_by_label("Team").select_option(TEAM)
    # Nothing of this team is done yet: the empty queue says where tasks come from.
    agent.get_by_role("radio", name="Done").click()
    expect(agent.get_by_test_id("tasks-empty")).to_contain_text("reaches a Human task card", timeout=TIMEOUT_MS)
    agent.screenshot(path=str(artifacts / "tasks_empty.png"), full_page=True)
    agent.get_by_role("radio", name="Open").click()
    row = agent.get_by_test_id("task-row").filter(has_text="Grace")
    expect(row).to_have_count(1, timeout=TIMEOUT_MS)
    expect(row).to_contain_text("unclaimed")
    row.get_by_role("button", name="Claim").click()
    expect(row).to_contain_text("E2E agent", timeout=TIMEOUT_MS)

    context = agent.get_by_test_id("task-context")
    expect(context).to_contain_text("Call Grace and ask what they want to get done first.")
    expect(agent.get_by_test_id("context-where")).to_have_text(f"Care call {RUN} · Arrive · Welcome call")
    # How they got here: what they did (identified, signed up) and the three steps the run took to the card.
    expect(agent.get_by_test_id("context-path")).to_have_count(5)
    expect(agent.get_by_test_id("context-path").nth(1)).to_contain_text(SIGNED_UP)
    expect(agent.get_by_test_id("context-message")).to_contain_text("In-app: getting started")
    expect(agent.get_by_test_id("context-message")).to_contain_text("in_app")
    agent.screenshot(path=str(artifacts / "tasks_context.png"), full_page=True)

    agent.get_by_label("Outcome").select_option("reached")
    context.get_by_placeholder("Note for the customer's timeline").fill("Wants to import their contacts first.")
    agent.get_by_role("button", name="Complete task").click()
    expect(context).to_contain_text("Done: reached — by agent@e2e.example.com", timeout=TIMEOUT_MS)
    agent.screenshot(path=str(artifacts / "tasks_done.png"), full_page=True)

    with session_scope() as session:
        task = session.execute(select(HumanTask).where(col(HumanTask.journey_id) == journey_id)).scalar_one()
        assert (task.status, task.outcome, task.completed_by) == (TaskStatus.DONE, "reached", "agent@e2e.example.com")

    # The app's engine takes the outcome's path at its next tick: the run reaches the goal.
    def ended_at_goal() -> bool:
        with session_scope() as session:
            run = session.execute(
                select(Enrollment)
                .join(Profile, col(Profile.id) == col(Enrollment.profile_id))
                .where(col(Enrollment.journey_id) == journey_id)
            ).scalar_one()
            return run.end_reason == "goal"

    expect_true(ended_at_goal)

    # The admin looks the customer up: the completion is in the timeline, with the note.
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.customers())
    page.get_by_label("Find a customer").fill(f"grace-{RUN}")
    page.get_by_role("button", name="Look up").click()
    done = page.get_by_test_id("timeline-item").filter(has_text="task done: Welcome call: reached")
    expect(done).to_have_count(1, timeout=TIMEOUT_MS)
    expect(done).to_contain_text("Wants to import their contacts first.")
    page.screenshot(path=str(artifacts / "tasks_timeline.png"), full_page=True)

    # The task card's figures on the map.
    page.set_viewport_size({"width": 1600, "height": 900})
    page.goto(routes.journey_editor(journey_id))
    expect(page.locator(".react-flow__node-card").first).to_be_visible(timeout=TIMEOUT_MS)
    page.locator("#jc-kpi-toggle").click()
    figures = page.locator('.react-flow__node-card[data-id="call"]').get_by_test_id("node-task-kpi")
    expect(figures).to_contain_text("1 task · 1 done in time", timeout=TIMEOUT_MS)
    expect(page.locator('.react-flow__node-card[data-id="call"]')).to_contain_text("reached 100%")
    page.screenshot(path=str(artifacts / "tasks_map_figures.png"))


def test_a_task_whose_customer_reached_the_goal_is_closed_under_done(
    signed_in_as: Callable[[Role], Page], journey_id: int, artifacts: Path
) -> None:
    with session_scope() as session:
        ingest_and_react(session=session, messages=[track(f"grace-{RUN}", f"task_onboarded_{RUN}")])
    agent = signed_in_as(Role.AGENT)
    agent.set_viewport_size({"width": 1440, "height": 1100})
    agent.goto(routes.tasks())
    # No longer open, the task's team is not offered in the team filter: its journey's name picks its row out (the
    # other test's journey has the same name, and its task was done with an outcome).
    agent.get_by_role("radio", name="Done").click()
    rows = agent.get_by_test_id("task-row").filter(has_text=f"Care call {RUN}")
    row = rows.filter(has_text="closed: ")
    expect(row).to_contain_text("closed: the customer reached the goal", timeout=TIMEOUT_MS)
    expect(row.get_by_role("button")).to_have_count(0)
    agent.get_by_role("radio", name="Open").click()
    expect(rows).to_have_count(0, timeout=TIMEOUT_MS)
    agent.get_by_role("radio", name="Done").click()
    row.get_by_role("link", name="Welcome call").click()
    expect(agent.get_by_test_id("task-closed")).to_contain_text(
        "Closed as no longer needed: the customer reached the goal", timeout=TIMEOUT_MS
    )
    expect(agent.get_by_role("button", name="Complete task")).to_have_count(0)
    expect(agent.get_by_role("button", name="Claim this task")).to_have_count(0)
    agent.screenshot(path=str(artifacts / "tasks_closed.png"), full_page=True)


def expect_true(condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"{condition} did not hold within {timeout} s")
