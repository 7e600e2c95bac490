"""The guard keeps every kind of Reflex event handler working: plain, async, generators, background tasks,
typed arguments; and it refuses before any of the handler runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import reflex as rx
from reflex_base.event import EventHandler

from engine.accounts import Action, create_user, sign_in
from engine.map import PausePolicy
from engine.store import Role, session_scope
from journey_builder.auth import Kind, Rule, acting, requires, rule_of, viewing
from journey_builder.canvas.flow import Move
from tests.integration.reflex_events import Outcome, Tab, browser, run


@dataclass(frozen=True)
class Point:
    x: int
    y: int


class GuardProbeState(rx.State):
    log: list[str] = rx.field(default_factory=list)

    @rx.event
    @requires(Action.LAUNCH)
    def plain(self, count: int, moves: list[Move], point: Point) -> rx.event.EventSpec:
        self.log.append(f"plain {count + 1} {moves[0]['id']} {point.x + point.y} {acting().email}")
        return rx.toast.success("plain ran")

    @rx.event
    @requires(Action.LAUNCH)
    async def coroutine(self, policy: PausePolicy) -> None:
        self.log.append(f"coroutine {policy.name} {acting().role.value}")

    @rx.event
    @requires(Action.LAUNCH)
    def generator(self) -> Any:
        self.log.append(f"generator 1 {acting().email}")
        yield rx.toast.info("step")
        self.log.append(f"generator 2 {acting().email}")
        return rx.toast.info("generator done")

    @rx.event
    @requires(Action.LAUNCH)
    async def async_generator(self, times: int) -> Any:
        for step in range(times):
            self.log.append(f"async generator {step} {acting().email}")
            yield rx.toast.info(f"step {step}")

    @rx.event(background=True)
    @requires(Action.LAUNCH)
    async def background(self, seq: int) -> None:
        async with self:
            self.log.append(f"background {seq} {acting().email}")

    @requires(Action.LAUNCH)
    @rx.event(background=True)
    async def background_guard_outside(self) -> None:
        async with self:
            self.log.append(f"background outside {acting().email}")

    @rx.event
    @viewing(Action.VIEW_CUSTOMERS)
    def look(self) -> None:
        self.log.append(f"look {acting().email}")


def handler(name: str) -> EventHandler:
    return GuardProbeState.event_handlers[name]


PASSWORD = "correct horse battery staple"


@pytest.fixture
def secrets(db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[Role, str]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with session_scope() as session:
        found = {}
        for role in (Role.MARKETER, Role.DESIGNER):
            create_user(session=session, email=f"{role.value}@example.com", password=PASSWORD, role=role, actor="test")
            found[role] = sign_in(session=session, email=f"{role.value}@example.com", password=PASSWORD)[1]
        return found


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {"count": "2", "moves": [{"id": "n1", "x": 1, "y": 2}], "point": {"x": 3, "y": 4}}),
    ("coroutine", {"policy": "send_late"}),
    ("generator", {}),
    ("async_generator", {"times": 2}),
    ("background", {"seq": 7}),
    ("background_guard_outside", {}),
    ("look", {}),
]


def send_all(secret: str) -> tuple[list[Outcome], list[str]]:
    async def go() -> tuple[list[Outcome], list[str]]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open("/probe", secret)
            outcomes = [await tab.send(handler(name), **payload) for name, payload in CALLS]
            return outcomes, (await tab.state(GuardProbeState))["log"]

    return run(go())


def test_reflex_still_sees_each_handlers_kind_and_signature() -> None:
    assert handler("background").is_background
    assert handler("background_guard_outside").is_background
    assert not handler("plain").is_background
    assert list(handler("plain").get_parameters()) == ["self", "count", "moves", "point"]
    assert handler("plain")._get_type_hints()["moves"] == list[Move]
    assert handler("coroutine")._get_type_hints()["policy"] is PausePolicy
    assert rule_of(handler("look").fn) == Rule(Kind.VIEWING, Action.VIEW_CUSTOMERS)
    assert rule_of(handler("background_guard_outside").fn) == Rule(Kind.REQUIRES, Action.LAUNCH)


def test_every_kind_of_handler_runs_for_an_allowed_role_with_its_typed_arguments(secrets: dict[Role, str]) -> None:
    outcomes, log = send_all(secrets[Role.MARKETER])

    assert [outcome.error for outcome in outcomes] == [None] * len(CALLS)
    assert all(outcome.ran for outcome in outcomes)
    assert log == [
        "plain 3 n1 7 marketer@example.com",
        "coroutine SEND_LATE marketer",
        "generator 1 marketer@example.com",
        "generator 2 marketer@example.com",
        "async generator 0 marketer@example.com",
        "async generator 1 marketer@example.com",
        "background 7 marketer@example.com",
        "background outside marketer@example.com",
        "look marketer@example.com",
    ]
    plain, _, generator, async_generator, *_ = outcomes
    assert plain.toasts == [("success", "plain ran")]
    assert generator.toasts == [("info", "step"), ("info", "generator done")]
    assert async_generator.toasts == [("info", "step 0"), ("info", "step 1")]


def test_a_refused_role_runs_none_of_any_kind_of_handler(secrets: dict[Role, str]) -> None:
    outcomes, log = send_all(secrets[Role.DESIGNER])

    assert log == []
    assert not any(outcome.ran for outcome in outcomes)
    assert [outcome.toasts for outcome in outcomes] == [[("error", "Not allowed: a designer may not launch.")]] * 6 + [
        [("error", "Not allowed: a designer may not view customers.")]
    ]
    # A view that is refused also leaves the page; a refused change stays where it is.
    assert [outcome.redirects for outcome in outcomes] == [[]] * 6 + [["/"]]


def test_acting_outside_a_guarded_handler_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="only inside a handler"):
        acting()


def send_signed_out(secret: str) -> Outcome:
    async def go() -> Outcome:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open("/probe", secret)
            return await tab.send(handler("look"))

    return run(go())


def test_on_a_fresh_install_a_signed_out_call_goes_to_the_first_run_without_a_sign_in_prompt(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)

    outcome = send_signed_out("")

    assert not outcome.ran
    assert outcome.toasts == []
    assert outcome.redirects == ["/first-run"]


def test_once_someone_has_an_account_a_signed_out_call_is_asked_to_sign_in(secrets: dict[Role, str]) -> None:
    outcome = send_signed_out("")

    assert not outcome.ran
    assert outcome.toasts == [("info", "Sign in to continue.")]
    assert [redirect.split("?")[0] for redirect in outcome.redirects] == ["/sign-in"]
