"""A designer's first hour through Reflex's event processor: new journeys named up front, rename, duplicate,
archive and restore from the list and from the editor, personas created, edited and removed, and pain points
and opportunities added with Enter, edited and removed in the inspector."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from engine.accounts import create_user, sign_in
from engine.journeys import (
    create_journey,
    draft_of,
    get_journey,
    list_journeys,
    publish_journey,
    seed_starters,
)
from engine.map import JourneyMap
from engine.map.starters import load_template
from engine.runtime import launch_journey
from engine.store import Role, audit, session_scope
from journey_builder import routes
from journey_builder.canvas.canvas_state import CanvasState
from journey_builder.canvas.editor_state import EditorState
from journey_builder.canvas.inspector_state import InspectorState
from journey_builder.canvas.journey_state import JourneyState
from journey_builder.canvas.overlay_state import ARCHIVED_MESSAGE, OverlayState
from journey_builder.canvas.personas import PersonaState
from journey_builder.pages.journeys_state import ARCHIVED, BLANK, JourneysState
from tests.integration.reflex_events import Outcome, Tab, browser, run

PASSWORD = "correct horse battery staple"
CART = load_template("cart_abandonment").name


@dataclass(frozen=True)
class Team:
    designer: str
    marketer: str


@pytest.fixture
def team(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Team:
    """The starters stored, and a designer's and a marketer's browser sessions."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    secrets = {}
    with session_scope() as session:
        seed_starters(session=session)
        for role in (Role.DESIGNER, Role.MARKETER):
            email = f"{role.value}@example.com"
            create_user(session=session, email=email, password=PASSWORD, role=role, actor="test")
            secrets[role] = sign_in(session=session, email=email, password=PASSWORD)[1]
    return Team(designer=secrets[Role.DESIGNER], marketer=secrets[Role.MARKETER])


def in_tab(path: str, secret: str, script: Callable[[Tab], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            opened = await tab.open(path, secret)
            assert opened.error is None, opened.error
            return await script(tab)

    return run(go())


async def send(tab: Tab, handler: Any, **payload: Any) -> Outcome:
    outcome = await tab.send(handler, **payload)
    assert outcome.ran, handler
    assert outcome.error is None, outcome.error
    return outcome


def said(outcome: Outcome) -> list[tuple[str, str]]:
    """The toasts, their text as shown (the event carries it as a JavaScript string)."""
    return [(level, json.loads(f'"{text}"')) for level, text in outcome.toasts]


def stored(journey_id: int) -> JourneyMap:
    with session_scope() as session:
        return draft_of(get_journey(session=session, journey_id=journey_id))


def journey_named(name: str) -> int:
    with session_scope() as session:
        return next(s.id for s in list_journeys(session=session, archived=None) if s.name == name)


def new_journey(name: str = "Welcome series") -> int:
    with session_scope() as session:
        journey_id = create_journey(
            session=session, doc=load_template("trial_onboarding").model_copy(update={"name": name})
        ).id
    assert journey_id is not None
    return journey_id


# --- the journeys list --------------------------------------------------------------------------------------


def test_a_designer_starts_a_blank_journey_named_in_the_dialog(team: Team) -> None:
    handlers = JourneysState.event_handlers

    async def script(tab: Tab) -> tuple[dict[str, Any], Outcome, dict[str, Any], dict[str, Any], Outcome]:
        await send(tab, handlers["open_new"])
        opened = await tab.state(JourneysState)
        await send(tab, handlers["choose_start"], start="cart_abandonment")
        suggested = await tab.state(JourneysState)
        taken = await send(tab, handlers["create"], form={"name": CART})
        refused = await tab.state(JourneysState)
        await send(tab, handlers["choose_start"], start=BLANK)
        created = await send(tab, handlers["create"], form={"name": "  Welcome series "})
        assert taken.redirects == []
        return opened, taken, refused, suggested, created

    opened, _, refused, suggested, created = in_tab(routes.JOURNEYS_LIST, team.designer, script)

    assert (opened["dialog"], opened["start"], opened["name"]) == ("new", BLANK, "")
    assert refused["dialog"] == "new"
    assert refused["dialog_error"] == (
        f"Another journey is already called '{CART}'; choose another name, such as '{CART} (2)'."
    )
    # A starter fills in its own name, numbered because a journey has it already.
    assert (suggested["start"], suggested["name"]) == ("cart_abandonment", f"{CART} (2)")
    journey_id = journey_named("Welcome series")
    assert created.redirects == [routes.journey_editor(journey_id)]
    doc = stored(journey_id)
    assert [(len(doc.stages), [n.kind.value for n in doc.nodes])] == [(1, ["trigger"])]
    with session_scope() as session:
        [entry] = audit.entries(session=session, journey_id=journey_id)
    assert (entry.actor, entry.action) == ("designer@example.com", "journey.create")


def test_a_name_typed_before_choosing_a_starter_is_kept(team: Team) -> None:
    handlers = JourneysState.event_handlers

    async def script(tab: Tab) -> dict[str, Any]:
        await send(tab, handlers["open_new"])
        await send(tab, handlers["keep_name"], name="Spring recovery")
        await send(tab, handlers["choose_start"], start="cart_abandonment")
        created = await send(tab, handlers["create"], form={"name": "Spring recovery"})
        assert len(created.redirects) == 1
        return await tab.state(JourneysState)

    shown = in_tab(routes.JOURNEYS_LIST, team.designer, script)

    assert shown["name"] == "Spring recovery"
    assert stored(journey_named("Spring recovery")).nodes == load_template("cart_abandonment").nodes


def test_the_new_journey_link_opens_the_dialog_for_those_who_may_draw(team: Team) -> None:
    async def dialog(tab: Tab) -> str:
        return str((await tab.state(JourneysState))["dialog"])

    assert in_tab(routes.new_journey(), team.designer, dialog) == "new"
    assert in_tab(routes.new_journey(), team.marketer, dialog) == ""


def test_rename_duplicate_archive_and_restore_from_the_list(team: Team) -> None:
    handlers = JourneysState.event_handlers
    journey_id = new_journey()

    async def script(tab: Tab) -> list[Any]:
        seen: list[Any] = []
        await send(tab, handlers["open_rename"], journey_id=journey_id)
        seen.append(await tab.state(JourneysState))
        await send(tab, handlers["rename"], form={"name": CART})
        seen.append(await tab.state(JourneysState))
        seen.append(said(await send(tab, handlers["rename"], form={"name": "Onboarding"})))
        seen.append(said(await send(tab, handlers["duplicate"], journey_id=journey_id)))
        seen.append(said(await send(tab, handlers["archive"], journey_id=journey_id)))
        after_archive = await tab.state(JourneysState)
        seen.append(after_archive)
        await send(tab, handlers["set_status_filter"], value=ARCHIVED)
        seen.append(await tab.state(JourneysState))
        seen.append(said(await send(tab, handlers["restore"], journey_id=journey_id)))
        seen.append(await tab.state(JourneysState))
        return seen

    opened, refused, renamed, duplicated, archived, listed, archive_view, restored, after = in_tab(
        routes.JOURNEYS_LIST, team.designer, script
    )

    assert (opened["dialog"], opened["name"]) == ("rename", "Welcome series")
    assert refused["dialog"] == "rename"
    assert refused["dialog_error"].startswith(f"Another journey is already called '{CART}'")
    assert renamed == [("success", "Renamed to “Onboarding”.")]
    assert duplicated == [("success", "Duplicated as “Onboarding (2)”: a draft with the same map.")]
    assert archived == [("success", "Archived “Onboarding”; it is under Archived, where it can be restored.")]
    assert journey_id not in {card.id for card in listed["journeys"]}
    assert listed["tabs"][-1].label == "Archived 1"
    assert [(card.id, card.archived) for card in archive_view["journeys"]] == [(journey_id, True)]
    assert archive_view["journeys"][0].updated.startswith("Archived just now by designer@example.com")
    assert restored == [("success", "Restored “Onboarding”.")]
    assert journey_id in {card.id for card in after["journeys"]}
    assert after["status_filter"] == "all"
    assert stored(journey_named("Onboarding (2)")).nodes == stored(journey_id).nodes


def test_a_live_journey_cannot_be_archived_and_the_list_says_why(team: Team) -> None:
    journey_id = new_journey("Live one")
    with session_scope() as session:
        publish_journey(session=session, journey_id=journey_id)
        launch_journey(session=session, journey_id=journey_id, actor="marketer@example.com")

    async def script(tab: Tab) -> tuple[dict[str, Any], Outcome]:
        shown = await tab.state(JourneysState)
        return shown, await send(tab, JourneysState.event_handlers["archive"], journey_id=journey_id)

    shown, refused = in_tab(routes.JOURNEYS_LIST, team.designer, script)

    card = next(card for card in shown["journeys"] if card.id == journey_id)
    assert card.archive_blocked == "It is live; stop it in launch control before archiving it."
    assert said(refused) == [
        ("error", "Journey 'Live one' cannot be archived: it is live; stop it in launch control before archiving it.")
    ]
    with session_scope() as session:
        assert get_journey(session=session, journey_id=journey_id).archived_at is None


# --- the editor's header ------------------------------------------------------------------------------------


def test_renaming_in_the_editor_survives_later_saves_and_undo(team: Team) -> None:
    journey_id = new_journey()

    async def script(tab: Tab) -> tuple[dict[str, Any], dict[str, Any]]:
        # Each edit's autosave is chained to it and runs before the next event.
        await send(tab, CanvasState.event_handlers["drop_kind"], drop={"kind": "wait", "x": 40, "y": 400})
        await send(tab, JourneyState.event_handlers["open_rename"])
        await send(tab, JourneyState.event_handlers["rename"], form={"name": "Onboarding for teams"})
        renamed = await tab.state(EditorState)
        await send(tab, EditorState.event_handlers["undo"])
        return renamed, await tab.state(JourneyState)

    editor, dialog = in_tab(routes.journey_editor(journey_id), team.designer, script)

    # The drop's save was revision 2; the rename is 3.
    assert (editor["journey_name"], editor["revision"]) == ("Onboarding for teams", 3)
    assert dialog["renaming"] is False
    # The undone drop is saved, under the new name: the old one is not written back.
    doc = stored(journey_id)
    assert (doc.name, len(doc.nodes)) == ("Onboarding for teams", len(load_template("trial_onboarding").nodes))
    with session_scope() as session:
        assert get_journey(session=session, journey_id=journey_id).name == "Onboarding for teams"


def test_duplicate_opens_the_copy_and_an_archived_journey_opens_view_only_until_restored(team: Team) -> None:
    journey_id = new_journey()
    handlers = JourneyState.event_handlers

    async def script(tab: Tab) -> list[Any]:
        duplicated = await send(tab, handlers["duplicate"])
        archived = await send(tab, handlers["archive"])
        state = (await tab.state(EditorState), await tab.state(OverlayState))
        refused = await send(tab, CanvasState.event_handlers["drop_kind"], drop={"kind": "wait", "x": 40, "y": 400})
        restored = await send(tab, handlers["restore"])
        again = (await tab.state(EditorState), await tab.state(OverlayState))
        return [duplicated, archived, state, refused, restored, again]

    duplicated, archived, (editor, overlay), refused, restored, (editor_after, overlay_after) = in_tab(
        routes.journey_editor(journey_id), team.designer, script
    )

    copy_id = journey_named("Welcome series (2)")
    assert duplicated.redirects == [routes.journey_editor(copy_id)]
    assert said(archived)[0][0] == "success"
    assert (editor["archived"], overlay["read_only"]) == (True, True)
    assert editor["archived_note"] == "Archived just now by designer@example.com"
    assert said(refused) == [("warning", ARCHIVED_MESSAGE)]
    assert said(restored) == [("success", "Restored “Welcome series”.")]
    assert (editor_after["archived"], overlay_after["read_only"]) == (False, False)
    assert stored(journey_id) == load_template("trial_onboarding").model_copy(update={"name": "Welcome series"})


def test_an_archived_journey_opens_view_only(team: Team) -> None:
    journey_id = new_journey()
    in_tab(
        routes.JOURNEYS_LIST,
        team.designer,
        lambda tab: send(tab, JourneysState.event_handlers["archive"], journey_id=journey_id),
    )

    async def script(tab: Tab) -> tuple[dict[str, Any], dict[str, Any]]:
        return await tab.state(EditorState), await tab.state(OverlayState)

    editor, overlay = in_tab(routes.journey_editor(journey_id), team.designer, script)

    assert (editor["archived"], overlay["read_only"], overlay["archived"]) == (True, True, True)


# --- personas and the inspector ----------------------------------------------------------------------------


def test_personas_are_added_edited_switched_and_removed_with_what_was_drawn_for_them(team: Team) -> None:
    journey_id = new_journey()
    persona = PersonaState.event_handlers
    inspector = InspectorState.event_handlers
    card = load_template("trial_onboarding").nodes[0].id

    async def script(tab: Tab) -> list[Any]:
        seen: list[Any] = []
        await send(tab, persona["add"], form={"new_persona": "Ana, the agency owner"})
        ana = (await tab.state(EditorState))["persona"]
        await send(tab, persona["update"], persona_id=ana, field="goals", value="Win clients\n\nKeep them")
        await send(tab, persona["update"], persona_id=ana, field="description", value="Runs a small agency")
        refused = await send(tab, persona["update"], persona_id=ana, field="name", value="  ")
        await send(tab, EditorState.event_handlers["select"], ids=[card])
        await send(tab, inspector["set_emotion"], value=[-2])
        await send(tab, inspector["add_item"], field="pain_points", form={"add_pain_points": "No agency plan"})
        seen.append((said(refused), await tab.state(EditorState)))
        first = (await tab.state(EditorState))["personas"][0].id
        await send(tab, persona["show"], persona_id=first)
        seen.append(await tab.state(EditorState))
        await send(tab, persona["remove"], persona_id=ana)
        seen.append(await tab.state(EditorState))
        return seen

    (refused, as_ana), as_first, removed = in_tab(routes.journey_editor(journey_id), team.designer, script)

    assert refused == [("error", "A persona needs a name.")]
    ana = next(p for p in as_ana["personas"] if p.name == "Ana, the agency owner")
    assert (ana.description, ana.goals) == ("Runs a small agency", ["Win clients", "Keep them"])
    assert as_ana["persona_name"] == "Ana, the agency owner"
    card_as_ana = next(c for c in json.loads(as_ana["drawing"])["cards"] if c["id"] == card)
    assert (card_as_ana["emotion"], as_ana["form"].emotion) == (-2, -2)
    assert [p.text for p in as_ana["form"].pain_points if not p.shared] == ["No agency plan"]
    # The starter's own persona feels what the map was drawn with, and has not Ana's pain point.
    original = load_template("trial_onboarding").nodes[0]
    assert next(c for c in json.loads(as_first["drawing"])["cards"] if c["id"] == card)["emotion"] == original.emotion
    assert "No agency plan" not in [p.text for p in as_first["form"].pain_points]
    assert [p.name for p in removed["personas"]] == [p.name for p in load_template("trial_onboarding").personas]
    assert stored(journey_id).node(card) == original


def test_pain_points_and_opportunities_are_added_with_enter_once_edited_and_removed(team: Team) -> None:
    journey_id = new_journey()
    card = load_template("trial_onboarding").nodes[0].id
    inspector = InspectorState.event_handlers

    async def script(tab: Tab) -> list[Any]:
        seen: list[Any] = []
        await send(tab, EditorState.event_handlers["select"], ids=[card])
        before = len((await tab.state(EditorState))["form"].pain_points)
        await send(tab, inspector["add_item"], field="pain_points", form={"add_pain_points": "  Slow set-up "})
        # The box was emptied by Enter: leaving it afterwards sends nothing to add.
        await send(tab, inspector["add_typed"], field="pain_points", text="")
        nonce = (await tab.state(InspectorState))["adder_nonce"]
        twice = await send(tab, inspector["add_typed"], field="pain_points", text="slow set-up")
        seen.append((before, said(twice), (await tab.state(InspectorState))["adder_nonce"] - nonce))
        rows = (await tab.state(EditorState))["form"].pain_points
        added = next(row for row in rows if row.text == "Slow set-up")
        await send(tab, inspector["edit_item"], field="pain_points", index=added.index, text="Slow set-up for teams")
        await send(tab, inspector["set_severity"], index=added.index, severity="high")
        blank = await send(tab, inspector["edit_item"], field="pain_points", index=added.index, text=" ")
        seen.append((said(blank), (await tab.state(EditorState))["form"].pain_points))
        await send(tab, inspector["remove_item"], field="pain_points", index=added.index)
        seen.append((await tab.state(EditorState))["form"].pain_points)
        await send(tab, inspector["add_item"], field="opportunities", form={"add_opportunities": "Templates"})
        await send(tab, inspector["edit_item"], field="opportunities", index=0, text="Starter templates")
        await send(tab, inspector["remove_item"], field="opportunities", index=1)
        seen.append((await tab.state(EditorState))["form"].opportunities)
        return seen

    (before, twice, cleared), (blank, rows), after_remove, opportunities = in_tab(
        routes.journey_editor(journey_id), team.designer, script
    )

    assert twice == [("error", "'Compares plans on the pricing page' already has the pain point 'slow set-up'.")]
    assert cleared == 1
    edited = [(row.text, row.severity) for row in rows if row.text.startswith("Slow")]
    assert edited == [("Slow set-up for teams", "high")]
    assert blank == [("error", "A pain point needs text; to remove it, use its remove button.")]
    assert len(after_remove) == before
    assert opportunities == ["Starter templates"]


def test_an_in_app_card_s_button_label_is_edited_and_kept_when_its_body_is(team: Team) -> None:
    with session_scope() as session:
        doc = load_template("at_risk_save").model_copy(update={"name": "At-risk, edited"})
        journey_id = create_journey(session=session, doc=doc).id
    assert journey_id is not None
    inspector = InspectorState.event_handlers

    async def script(tab: Tab) -> Any:
        await send(tab, EditorState.event_handlers["select"], ids=["in_app_guidance"])
        shown = (await tab.state(EditorState))["form"].button
        await send(tab, inspector["set_text"], field="body", value="Two quick wins")
        kept = stored(journey_id).node("in_app_guidance")
        await send(tab, inspector["set_text"], field="button", value="Show me")
        return shown, kept

    shown, kept = in_tab(routes.journey_editor(journey_id), team.designer, script)

    assert shown == "See the quick wins"
    assert (kept.content.body, kept.content.button) == ("Two quick wins", "See the quick wins")
    assert stored(journey_id).node("in_app_guidance").content.button == "Show me"  # type: ignore[union-attr]


def test_a_human_task_card_is_dropped_from_the_palette_and_edited_in_the_inspector(team: Team) -> None:
    journey_id = new_journey()
    inspector = InspectorState.event_handlers

    async def script(tab: Tab) -> tuple[dict[str, Any], Outcome]:
        await send(tab, CanvasState.event_handlers["drop_kind"], drop={"kind": "human_task", "x": 40, "y": 900})
        await send(tab, inspector["set_text"], field="team", value="csm")
        await send(tab, inspector["set_text"], field="instructions", value="Call {{ profile.first_name }} today.")
        await send(tab, inspector["set_duration"], field="due", amount="36", unit="hours")
        await send(tab, inspector["set_text"], field="outcomes", value="reached - saved\n\nno answer\n")
        await send(tab, inspector["set_channel"], field="channel", value="chat")
        refused = await send(tab, inspector["set_duration"], field="due", amount="soon", unit="hours")
        return await tab.state(EditorState), refused

    editor, refused = in_tab(routes.journey_editor(journey_id), team.designer, script)

    form = editor["form"]
    assert (form.kind, form.kind_label, form.team, form.due_amount, form.due_unit) == (
        "human_task",
        "Human task",
        "csm",
        "36",
        "hours",
    )
    assert form.outcomes == "reached - saved\nno answer"
    assert said(refused) == [("error", "'soon' is not a number of hours")]
    card = next(c for c in json.loads(editor["drawing"])["cards"] if c["id"] == form.id)
    assert (card["kind"], card["hint"], card["channel"]) == ("human_task", "csm · due 1 d 12 h · 2 outcomes", "chat")
    node = stored(journey_id).node(form.id)
    assert node is not None
    assert node.model_dump(include={"team", "instructions", "outcomes"}) == {
        "team": "csm",
        "instructions": "Call {{ profile.first_name }} today.",
        "outcomes": ["reached - saved", "no answer"],
    }
