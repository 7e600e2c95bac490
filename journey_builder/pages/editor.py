"""One journey's map, read-only for now: stages as lanes, touchpoints as cards, and the compiler's problems.

The canvas editor replaces this page's body; the route and the load-on-open stay.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from engine.compiler import compile_map
from engine.journeys import JourneyNotFoundError, draft_of, get_journey
from engine.mapdoc import JourneyMap
from engine.store.db import session_scope
from journey_builder import routes
from journey_builder.components.emotion_face import emotion_face
from journey_builder.components.layout import app_shell
from journey_builder.components.status_badge import status_badge

KIND_ICONS = {
    "trigger": "zap",
    "wait": "clock",
    "wait_for_event": "hourglass",
    "branch": "git-branch",
    "split": "split",
    "send": "send",
    "update_profile": "user-pen",
    "goal": "trophy",
    "exit": "log-out",
    "touchpoint": "map-pin",
}
CHANNEL_ICONS = {
    "email": "mail",
    "sms": "message-square",
    "push": "bell-ring",
    "in_app": "app-window",
    "web": "globe",
    "chat": "messages-square",
    "voice": "phone",
    "webhook": "webhook",
}


@dataclasses.dataclass(frozen=True)
class TouchpointCard:
    id: str
    kind: str
    kind_label: str
    channel: str
    title: str
    emotion: int
    pain_points: int
    problems: int


@dataclasses.dataclass(frozen=True)
class StageLane:
    id: str
    name: str
    goal: str
    cards: list[TouchpointCard]


@dataclasses.dataclass(frozen=True)
class ProblemRow:
    severity: str
    code: str
    message: str
    where: str


def _lanes(doc: JourneyMap, problems_by_node: dict[str, int]) -> list[StageLane]:
    ordered = sorted(doc.nodes, key=lambda n: (n.position.y, n.position.x))
    return [
        StageLane(
            id=stage.id,
            name=stage.name,
            goal=stage.goal,
            cards=[
                TouchpointCard(
                    id=node.id,
                    kind=node.kind.value,
                    kind_label=node.kind.value.replace("_", " "),
                    channel=node.channel.value.replace("_", "-") if node.channel else "",
                    title=node.title or node.id,
                    emotion=node.emotion,
                    pain_points=len(node.pain_points),
                    problems=problems_by_node.get(node.id, 0),
                )
                for node in ordered
                if node.stage == stage.id
            ],
        )
        for stage in sorted(doc.stages, key=lambda s: s.order)
    ]


class JourneyMapState(rx.State):
    journey_id: int = 0
    not_found: bool = False
    loaded: bool = False
    name: str = ""
    description: str = ""
    status: str = ""
    lanes: list[StageLane] = rx.field(default_factory=list)
    problems: list[ProblemRow] = rx.field(default_factory=list)
    error_count: int = 0
    launch_href: str = ""

    @rx.event
    def load(self) -> None:
        self.journey_id = routes.journey_id_in(self.router.url.path)
        try:
            with session_scope() as session:
                journey = get_journey(session=session, journey_id=self.journey_id)
                doc = draft_of(journey)
        except JourneyNotFoundError:
            self.not_found, self.loaded = True, True
            return
        result = compile_map(doc)
        titles = {node.id: node.title or node.id for node in doc.nodes}
        problems_by_node: dict[str, int] = {}
        for problem in result.problems:
            if problem.node_id:
                problems_by_node[problem.node_id] = problems_by_node.get(problem.node_id, 0) + 1
        self.not_found, self.loaded = False, True
        self.name, self.description, self.status = journey.name, journey.description, journey.status.value
        self.launch_href = routes.journey_launch(self.journey_id)
        self.lanes = _lanes(doc, problems_by_node)
        self.problems = [
            ProblemRow(
                severity=p.severity.value,
                code=p.code,
                message=p.message,
                where=titles.get(p.node_id, p.node_id) if p.node_id else (p.edge_id or "Journey"),
            )
            for p in result.problems
        ]
        self.error_count = len(result.errors)


def _icon_for(value: rx.Var[str], icons: dict[str, str], fallback: str, size: int) -> rx.Component:
    return rx.match(
        value, *[(key, rx.icon(icon, size=size)) for key, icon in icons.items()], rx.icon(fallback, size=size)
    )


def touchpoint_card(card: rx.Var[TouchpointCard]) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge(
                _icon_for(card.kind, KIND_ICONS, "circle", 12),
                card.kind_label,
                variant="soft",
                color_scheme="gray",
                radius="full",
                class_name="jb-kind",
            ),
            rx.spacer(),
            emotion_face(card.emotion),
            align="center",
            width="100%",
        ),
        rx.text(card.title, size="2", weight="medium", class_name="jb-touchpoint-title"),
        rx.hstack(
            rx.cond(
                card.channel != "",
                rx.badge(
                    _icon_for(card.channel, {k.replace("_", "-"): v for k, v in CHANNEL_ICONS.items()}, "radio", 12),
                    card.channel,
                    variant="outline",
                    color_scheme="indigo",
                    radius="full",
                ),
            ),
            rx.cond(
                card.pain_points > 0,
                rx.badge(
                    rx.icon("triangle-alert", size=12),
                    card.pain_points.to_string() + rx.cond(card.pain_points == 1, " pain point", " pain points"),
                    color_scheme="tomato",
                    variant="soft",
                    radius="full",
                ),
            ),
            rx.cond(
                card.problems > 0,
                rx.badge(
                    rx.icon("circle-alert", size=12),
                    card.problems.to_string() + " to fix",
                    color_scheme="red",
                    variant="solid",
                    radius="full",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        class_name=rx.cond(card.problems > 0, "jb-touchpoint jb-touchpoint-problem", "jb-touchpoint"),
        data_kind=card.kind,
    )


def stage_lane(lane: rx.Var[StageLane]) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.heading(lane.name, size="3", weight="bold"),
                rx.spacer(),
                rx.badge(lane.cards.length().to_string(), variant="surface", radius="full", color_scheme="gray"),
                align="center",
                width="100%",
            ),
            rx.cond(
                lane.goal != "",
                rx.hstack(
                    rx.icon("target", size=13),
                    rx.text(lane.goal, size="1"),
                    spacing="1",
                    align="start",
                    class_name="jb-lane-goal",
                ),
            ),
            spacing="1",
            class_name="jb-lane-header",
        ),
        rx.vstack(rx.foreach(lane.cards, touchpoint_card), spacing="3", width="100%"),
        class_name="jb-lane",
        data_testid="stage-lane",
    )


def _problem(problem: rx.Var[ProblemRow]) -> rx.Component:
    return rx.hstack(
        rx.cond(
            problem.severity == "error",
            rx.icon("circle-x", size=16, color="var(--red-10)"),
            rx.icon("triangle-alert", size=16, color="var(--amber-10)"),
        ),
        rx.vstack(
            rx.text(problem.message, size="2"),
            rx.hstack(
                rx.text(problem.where, size="1", weight="medium"),
                rx.code(problem.code, size="1", variant="ghost", color_scheme="gray"),
                spacing="2",
            ),
            spacing="1",
        ),
        spacing="3",
        align="start",
        class_name="jb-problem",
    )


def _problems_panel() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.heading("Compiler", size="3"),
            rx.spacer(),
            rx.cond(
                JourneyMapState.error_count > 0,
                rx.badge(JourneyMapState.error_count.to_string() + " errors", color_scheme="red", radius="full"),
                rx.badge(rx.icon("check", size=12), "Ready to publish", color_scheme="green", radius="full"),
            ),
            align="center",
            width="100%",
        ),
        rx.cond(
            JourneyMapState.problems.length() > 0,
            rx.vstack(rx.foreach(JourneyMapState.problems, _problem), spacing="3", margin_top="12px"),
            rx.text("No problems: the map compiles to a plan.", size="2", color_scheme="gray", margin_top="8px"),
        ),
        size="2",
        class_name="jb-problems",
        id="problems",
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(
                rx.hstack(
                    rx.icon("arrow-left", size=14), rx.text("All journeys", size="2"), align="center", spacing="1"
                ),
                href=routes.journeys_list(),
                color_scheme="gray",
                underline="none",
            ),
            rx.hstack(
                rx.heading(JourneyMapState.name, size="7", weight="bold", class_name="jb-page-title"),
                status_badge(JourneyMapState.status),
                align="center",
                spacing="3",
            ),
            rx.text(JourneyMapState.description, size="3", color_scheme="gray", class_name="jb-map-description"),
            spacing="2",
        ),
        rx.spacer(),
        rx.link(
            rx.button(rx.icon("rocket", size=16), "Launch control", size="3", variant="solid"),
            href=JourneyMapState.launch_href,
        ),
        align="end",
        width="100%",
        class_name="jb-page-header",
    )


def editor_page() -> rx.Component:
    return app_shell(
        rx.cond(
            JourneyMapState.not_found,
            rx.callout("There is no such journey.", icon="circle-alert", color_scheme="red"),
            rx.cond(
                JourneyMapState.loaded,
                rx.vstack(
                    _header(),
                    rx.box(rx.foreach(JourneyMapState.lanes, stage_lane), class_name="jb-lanes"),
                    _problems_panel(),
                    spacing="6",
                    width="100%",
                ),
                rx.skeleton(rx.box(height="480px"), loading=True),
            ),
        ),
        active="Journeys",
    )
