"""The demo journey: a starter whose waits run faster, live, so simulated customers move its numbers in minutes.

The starters wait hours and days, as real journeys do, and the engine runs waits on the real clock:
fed with simulated customers, the starter itself would move nobody past its first wait for an hour.
The demo journey is a copy of a starter with every wait, timeout and frequency-cap window divided by
a factor; ``journey simulate --speed`` with the same factor brings customers in at the matching pace
(a simulated hour of arrivals per real minute at 60). Quiet hours are left out: a day that passes in
24 minutes has no night to be quiet in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlmodel import Session

from engine.journeys import create_journey, draft_of, has_unpublished_changes, publish_journey, save_draft
from engine.map import JourneyMap, NodeKind, WaitForEventNode, WaitNode
from engine.map.starters import load_template
from engine.runtime import latest_version, launch_journey
from engine.store import Journey, JourneyStatus, find_journey_by_name

DEMO_STARTER: Final = "cart_abandonment"
DEMO_SPEED: Final = 60.0
DEMO_AUTHOR: Final = "demo"


def compress_waits(doc: JourneyMap, speed: float) -> JourneyMap:
    """The map with its waits ``speed`` times shorter and no quiet hours (waits until a time of day stay)."""
    if not speed > 0:
        raise ValueError(f"the speed must be more than 0, got {speed:g}")
    nodes = []
    for node in doc.nodes:
        if isinstance(node, WaitNode) and node.duration is not None:
            node = node.model_copy(update={"duration": _shorter(node.duration, speed)})
        elif isinstance(node, WaitForEventNode):
            node = node.model_copy(update={"timeout": _shorter(node.timeout, speed)})
        nodes.append(node)
    cap = doc.settings.frequency_cap
    if cap is not None:
        cap = cap.model_copy(update={"window": _shorter(cap.window, speed)})
    settings = doc.settings.model_copy(update={"quiet_hours": None, "frequency_cap": cap})
    return doc.model_copy(update={"nodes": nodes, "settings": settings})


# Cards whose titles and notes speak of the journey's own timing; a trigger's or a touchpoint's speak of the
# world outside ("30 minutes after the last cart activity"), which the demo does not speed up.
TIMED_KINDS: Final = frozenset({NodeKind.WAIT, NodeKind.WAIT_FOR_EVENT, NodeKind.EXIT})
_SPOKEN_DURATION = re.compile(r"\b(?P<count>\d+|an?)\s+(?P<unit>minutes?|min|hours?|h|days?)\b", re.IGNORECASE)
_UNIT_SECONDS = {"min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}
_QUIET_HOURS = re.compile(r"[^.]*\bquiet hours\b[^.]*\.\s*", re.IGNORECASE)


def _spoken(seconds: float) -> str:
    """A duration as a card says it, short: "45 s", "4 min", "24 min", "2 h", "3 days"."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds / size
            text = f"{count:.0f}" if count >= 10 or count == round(count) else f"{count:.1f}"
            return f"{text} {'day' if unit == 'days' and text == '1' else unit}"
    return f"{max(1, round(seconds))} s"


def _retimed(text: str, speed: float) -> tuple[str, list[str]]:
    """``text`` with every duration it speaks of divided by ``speed``, and those durations as they were."""
    found: list[str] = []

    def shorter(match: re.Match[str]) -> str:
        count = match["count"].lower()
        number = 1 if count in ("a", "an") else int(count)
        unit = match["unit"].lower().rstrip("s")
        seconds = number * _UNIT_SECONDS[unit]
        # Production's time as the starter says it ("24 hours" stays 24 h, not 1 day).
        short = {"minute": "min", "hour": "h"}.get(unit, unit)
        found.append(f"{number} {short}" if short != "day" or number == 1 else f"{number} days")
        return _spoken(seconds / speed)

    return _SPOKEN_DURATION.sub(shorter, text), found


def retitle_for_demo(doc: JourneyMap, speed: float) -> JourneyMap:
    """Titles and notes that say the demo's own times, with production's beside them, so a card never says
    "Wait 1 hour" over figures of customers who waited a minute: "Wait 1 min (1 h in production)".

    Notes drop what the demo does not do (quiet hours) and keep the production text after the demo's.
    """
    nodes = []
    for node in doc.nodes:
        if node.kind in TIMED_KINDS:
            title, originals = _retimed(node.title, speed)
            if originals:
                title = f"{title} ({', '.join(originals)} in production)"
            notes, spoken = _retimed(_QUIET_HOURS.sub("", node.notes).strip(), speed)
            if spoken:
                notes = f"{notes} In production: {node.notes}"
            node = node.model_copy(update={"title": title, "notes": notes if spoken else node.notes})
        nodes.append(node)
    return doc.model_copy(update={"nodes": nodes})


def _shorter(duration: timedelta, speed: float) -> timedelta:
    # Whole seconds: durations are shown and stored as ISO text, and a fraction of a second means nothing here.
    return timedelta(seconds=max(1, round(duration.total_seconds() / speed)))


def demo_map(starter: str = DEMO_STARTER, speed: float = DEMO_SPEED) -> JourneyMap:
    doc = retitle_for_demo(compress_waits(load_template(starter), speed), speed)
    return doc.model_copy(
        update={
            "name": f"{doc.name} (demo, {speed:g}x faster)",
            "description": (
                f"The {doc.name.lower()} starter with every wait {speed:g} times shorter and no quiet hours, fed "
                f"with simulated customers by `journey simulate --speed {speed:g}` so its numbers move within "
                f"minutes. {doc.description}"
            ),
        }
    )


@dataclass(frozen=True)
class DemoJourney:
    journey: Journey
    created: bool
    published_version: int | None
    launched: bool
    # The stored draft was brought up to date with the demo map this code makes.
    updated: bool = False


def ensure_demo_journey(
    *, session: Session, actor: str, starter: str = DEMO_STARTER, speed: float = DEMO_SPEED
) -> DemoJourney:
    """Store, publish and launch the demo journey, each only if not done yet.

    A demo journey stored by an older release, or edited since, gets this release's map as its draft, published
    as a new version while it is live (runs in flight stay on the version they entered with); one that is not
    live only gets the draft. A demo journey someone paused or stopped is otherwise left as it is: that was a
    decision, not an accident. An archived one is left entirely alone.
    """
    doc = demo_map(starter, speed)
    journey = find_journey_by_name(session=session, name=doc.name)
    created = journey is None
    if journey is None:
        journey = create_journey(session=session, doc=doc, created_by=DEMO_AUTHOR)
    journey_id = journey.id
    assert journey_id is not None
    if journey.archived_at is not None:
        return DemoJourney(journey=journey, created=False, published_version=None, launched=False)
    updated = draft_of(journey) != doc
    if updated:
        journey = save_draft(session=session, journey_id=journey_id, doc=doc, expected_revision=journey.revision)
    published = None
    never_published = latest_version(session=session, journey_id=journey_id) is None
    if never_published or (
        journey.status is JourneyStatus.LIVE and has_unpublished_changes(session=session, journey_id=journey_id)
    ):
        published = publish_journey(session=session, journey_id=journey_id, published_by=actor).number
    launched = journey.status is JourneyStatus.DRAFT
    if launched:
        journey = launch_journey(session=session, journey_id=journey_id, actor=actor)
    return DemoJourney(
        journey=journey, created=created, published_version=published, launched=launched, updated=updated
    )
