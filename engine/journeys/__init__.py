"""Journeys as stored things: create, drafts, publish (compile and freeze a version), seed the starters.

Also the published plans as the engine loads them, and which journeys are live.
"""

from engine.journeys.lookup import JourneyReferenceError, resolve_journey
from engine.journeys.plans import PLANS, RUNNING, LiveJourney, LoadedPlan, live_journeys
from engine.journeys.service import (
    CompileFailedError,
    DraftConflictError,
    JourneyNotFoundError,
    JourneySummary,
    count_journeys,
    create_journey,
    draft_of,
    export_map,
    get_journey,
    list_journeys,
    publish_journey,
    save_draft,
    seed_starters,
)

__all__ = [
    "PLANS",
    "RUNNING",
    "CompileFailedError",
    "DraftConflictError",
    "JourneyNotFoundError",
    "JourneyReferenceError",
    "JourneySummary",
    "LiveJourney",
    "LoadedPlan",
    "count_journeys",
    "create_journey",
    "draft_of",
    "export_map",
    "get_journey",
    "list_journeys",
    "live_journeys",
    "publish_journey",
    "resolve_journey",
    "save_draft",
    "seed_starters",
]
