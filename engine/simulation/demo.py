"""The demo journey: a starter whose waits run faster, live, so simulated customers move its numbers in minutes.

The starters wait hours and days, as real journeys do, and the engine runs waits on the real clock:
fed with simulated customers, the starter itself would move nobody past its first wait for an hour.
The demo journey is a copy of a starter with every wait, timeout and frequency-cap window divided by
a factor; ``journey simulate --speed`` with the same factor brings customers in at the matching pace
(a simulated hour of arrivals per real minute at 60). Quiet hours are left out: a day that passes in
24 minutes has no night to be quiet in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlmodel import Session

from engine.journeys import create_journey, publish_journey
from engine.map import JourneyMap, WaitForEventNode, WaitNode
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


def _shorter(duration: timedelta, speed: float) -> timedelta:
    # Whole seconds: durations are shown and stored as ISO text, and a fraction of a second means nothing here.
    return timedelta(seconds=max(1, round(duration.total_seconds() / speed)))


def demo_map(starter: str = DEMO_STARTER, speed: float = DEMO_SPEED) -> JourneyMap:
    doc = compress_waits(load_template(starter), speed)
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


def ensure_demo_journey(
    *, session: Session, actor: str, starter: str = DEMO_STARTER, speed: float = DEMO_SPEED
) -> DemoJourney:
    """Store, publish and launch the demo journey, each only if not done yet.

    A demo journey someone paused or stopped is left as it is: that was a decision, not an accident.
    """
    doc = demo_map(starter, speed)
    journey = find_journey_by_name(session=session, name=doc.name)
    created = journey is None
    if journey is None:
        journey = create_journey(session=session, doc=doc, created_by=DEMO_AUTHOR)
    assert journey.id is not None
    published = None
    if latest_version(session=session, journey_id=journey.id) is None:
        published = publish_journey(session=session, journey_id=journey.id, published_by=actor).number
    launched = journey.status is JourneyStatus.DRAFT
    if launched:
        journey = launch_journey(session=session, journey_id=journey.id, actor=actor)
    return DemoJourney(journey=journey, created=created, published_version=published, launched=launched)
