"""What the browser renders of a journey map: small typed views built from the document.

The canvas gets only these (cards, edges, lanes); the document itself stays on the server.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from engine.compiler import STANDARD_TRAITS, Problem, ProblemSeverity
from engine.map import (
    LANE_WIDTH,
    BranchNode,
    EventTrigger,
    ExitNode,
    HumanTaskNode,
    JourneyMap,
    Node,
    NodeKind,
    ScheduleTrigger,
    SendNode,
    SplitNode,
    TriggerNode,
    UpdateProfileNode,
    WaitForEventNode,
    WaitNode,
    emotion_for,
    ordered_stages,
    pain_points_for,
    stage_emotions,
)

KIND_LABELS: dict[NodeKind, str] = {
    NodeKind.TRIGGER: "Trigger",
    NodeKind.WAIT: "Wait",
    NodeKind.WAIT_FOR_EVENT: "Wait for event",
    NodeKind.BRANCH: "Branch",
    NodeKind.SPLIT: "Split",
    NodeKind.SEND: "Send",
    NodeKind.UPDATE_PROFILE: "Update profile",
    NodeKind.GOAL: "Goal",
    NodeKind.EXIT: "Exit",
    NodeKind.TOUCHPOINT: "Touchpoint",
    NodeKind.HUMAN_TASK: "Human task",
}

KIND_HINTS: dict[NodeKind, str] = {
    NodeKind.TRIGGER: "How customers enter",
    NodeKind.WAIT: "Pause for a time",
    NodeKind.WAIT_FOR_EVENT: "Until they act, or time out",
    NodeKind.BRANCH: "Yes / no on a condition",
    NodeKind.SPLIT: "Random arms by percent",
    NodeKind.SEND: "Email, SMS, push, webhook",
    NodeKind.UPDATE_PROFILE: "Set profile traits",
    NodeKind.GOAL: "What success looks like",
    NodeKind.EXIT: "Leave the journey",
    NodeKind.TOUCHPOINT: "A moment we don't automate",
    NodeKind.HUMAN_TASK: "A person acts; outcomes lead on",
}


@dataclasses.dataclass(frozen=True)
class CardView:
    id: str
    x: float
    y: float
    kind: str
    kind_label: str
    title: str
    hint: str
    channel: str
    emotion: int
    pains: int
    opportunities: int
    # Shown only in the PNG export, which is read away from the app: there the count alone would say nothing.
    pain_texts: tuple[str, ...] = ()
    problem: str = ""
    severity: str = ""


@dataclasses.dataclass(frozen=True)
class EdgeView:
    id: str
    source: str
    target: str
    label: str
    source_handle: str
    target_handle: str
    problem: bool = False


@dataclasses.dataclass(frozen=True)
class LaneView:
    id: str
    name: str
    goal: str
    emotion: float | None
    cards: int


@dataclasses.dataclass(frozen=True)
class ProblemView:
    code: str
    message: str
    severity: str
    target: str
    node_id: str


@dataclasses.dataclass(frozen=True)
class PersonaView:
    id: str
    name: str
    description: str
    goals: list[str]
    frustrations: list[str]
    # The lists as the persona form edits them: one item per line.
    goals_text: str = ""
    frustrations_text: str = ""


@dataclasses.dataclass(frozen=True)
class PaletteItem:
    kind: str
    label: str
    hint: str


PALETTE: list[PaletteItem] = [PaletteItem(kind.value, KIND_LABELS[kind], KIND_HINTS[kind]) for kind in NodeKind]


def describe_duration(delta: timedelta) -> str:
    """``timedelta(hours=3)`` as "3 h"; the largest whole units, two at most."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2]) or "0 s"


def _hint(node: Node) -> str:
    match node:
        case TriggerNode(trigger=EventTrigger(event=event)):
            return f"on {event}"
        case TriggerNode(trigger=ScheduleTrigger(cron=cron)):
            return f"schedule {cron}"
        case TriggerNode():
            return "when a trait matches"
        case WaitNode(duration=duration, until_local_time=until):
            parts = [describe_duration(duration)] if duration is not None else []
            parts += [f"until {until:%H:%M} local"] if until is not None else []
            return " then ".join(parts)
        case WaitForEventNode(event=event, timeout=timeout):
            return f"{event} · timeout {describe_duration(timeout)}"
        case BranchNode(conditions=conditions):
            if not conditions:
                return "no condition yet"
            first = conditions[0]
            more = f" +{len(conditions) - 1}" if len(conditions) > 1 else ""
            return f"{first.field} {first.op.value} {first.value if first.value is not None else ''}".strip() + more
        case SplitNode(arms=arms):
            return " · ".join(f"{arm.name} {arm.percent:g}%" for arm in arms)
        case SendNode(content=content):
            return content.subject or content.body.split("\n", 1)[0][:60]
        case UpdateProfileNode(set_traits=traits):
            return ("set " + ", ".join(traits)) if traits else ""
        case ExitNode(reason=reason):
            return reason
        case HumanTaskNode(team=team, due=due, outcomes=outcomes):
            who = f"{team} · " if team else ""
            return f"{who}due {describe_duration(due)} · {len(outcomes)} outcome{'' if len(outcomes) == 1 else 's'}"
    return ""


def _problems_by(problems: Sequence[Problem]) -> tuple[dict[str, Problem], set[str]]:
    by_node: dict[str, Problem] = {}
    for problem in problems:
        if problem.node_id is None:
            continue
        current = by_node.get(problem.node_id)
        if current is None or (current.severity != ProblemSeverity.ERROR and problem.severity == ProblemSeverity.ERROR):
            by_node[problem.node_id] = problem
    return by_node, {problem.edge_id for problem in problems if problem.edge_id is not None}


def cards(doc: JourneyMap, problems: Sequence[Problem], persona: str | None = None) -> list[CardView]:
    """The cards as ``persona`` experiences them (None: a map without personas)."""
    by_node, _ = _problems_by(problems)
    result = []
    for node in doc.nodes:
        problem = by_node.get(node.id)
        result.append(
            CardView(
                id=node.id,
                x=node.position.x,
                y=node.position.y,
                kind=node.kind.value,
                kind_label=KIND_LABELS[node.kind],
                title=node.title,
                hint=_hint(node),
                channel=node.channel.value if node.channel else "",
                emotion=emotion_for(node, persona),
                pains=len(pains := pain_points_for(doc, node, persona)),
                pain_texts=tuple(pain.text for _, pain in pains),
                opportunities=len(node.opportunities),
                problem=problem.message if problem else "",
                severity=problem.severity.value if problem else "",
            )
        )
    return result


def edges(doc: JourneyMap, problems: Sequence[Problem]) -> list[EdgeView]:
    _, bad_edges = _problems_by(problems)
    where = {node.id: node.position for node in doc.nodes}
    result = []
    for edge in doc.edges:
        source, target = where.get(edge.source), where.get(edge.target)
        # Within a lane the flow runs down the column; across lanes it runs left to right.
        stacked = source is not None and target is not None and abs(target.x - source.x) < LANE_WIDTH / 2
        result.append(
            EdgeView(
                id=edge.id,
                source=edge.source,
                target=edge.target,
                label=edge.label or "",
                source_handle="bottom" if stacked else "right",
                target_handle="top" if stacked else "left",
                problem=edge.id in bad_edges,
            )
        )
    return result


def lanes(doc: JourneyMap, persona: str | None = None) -> list[LaneView]:
    emotions = stage_emotions(doc, persona)
    counts = Counter(node.stage for node in doc.nodes)
    return [
        LaneView(id=stage.id, name=stage.name, goal=stage.goal, emotion=emotion, cards=counts[stage.id])
        for stage, emotion in zip(ordered_stages(doc), emotions, strict=True)
    ]


def problem_list(doc: JourneyMap, problems: Sequence[Problem], *, limit: int = 100) -> list[ProblemView]:
    """Errors first, then warnings, each named by the node or edge it concerns; at most ``limit`` of them."""
    titles = {node.id: node.title or node.id for node in doc.nodes}
    edge_source = {edge.id: edge.source for edge in doc.edges}
    ordered = sorted(problems, key=lambda problem: problem.severity != ProblemSeverity.ERROR)[:limit]
    result = []
    for problem in ordered:
        node_id = problem.node_id or edge_source.get(problem.edge_id or "", "")
        target = titles.get(node_id, "") if problem.node_id else ("edge" if problem.edge_id else "journey")
        result.append(ProblemView(problem.code, problem.message, problem.severity.value, target, node_id))
    return result


def personas(doc: JourneyMap) -> list[PersonaView]:
    return [
        PersonaView(
            p.id,
            p.name,
            p.description,
            list(p.goals),
            list(p.frustrations),
            "\n".join(p.goals),
            "\n".join(p.frustrations),
        )
        for p in doc.personas
    ]


def placeholders(doc: JourneyMap) -> list[str]:
    """The Liquid placeholders a message in this journey may use, as the compiler accepts them."""
    names = [f"profile.{trait}" for trait in sorted(STANDARD_TRAITS | set(doc.settings.profile_traits))]
    trigger = next((node.trigger for node in doc.nodes if isinstance(node, TriggerNode)), None)
    if isinstance(trigger, EventTrigger):
        fields = set(trigger.properties) | {condition.field for condition in trigger.filters}
        fields |= {n.correlate_on for n in doc.nodes if isinstance(n, WaitForEventNode) and n.correlate_on}
        names += [f"event.{field}" for field in sorted(fields)]
    return [*names, "journey.name", "unsubscribe_url"]
