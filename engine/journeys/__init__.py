"""Journeys as stored things: create (blank, from a starter, a copy), rename, drafts, publish (compile and freeze
a version), archive and restore, seed the starters.

Also the published plans as the engine loads them, and which journeys are live.
"""

from engine.journeys.lookup import JourneyReferenceError, resolve_journey
from engine.journeys.plans import PLANS, RUNNING, LiveJourney, LoadedPlan, live_journeys
from engine.journeys.service import (
    ArchiveError,
    CompileFailedError,
    DraftConflictError,
    JourneyNameError,
    JourneyNotFoundError,
    JourneySummary,
    archive_blocker,
    archive_journey,
    count_journeys,
    create_blank_journey,
    create_from_starter,
    create_journey,
    draft_of,
    duplicate_journey,
    export_map,
    get_journey,
    import_journey,
    list_journeys,
    publish_journey,
    rename_journey,
    restore_journey,
    save_draft,
    seed_starters,
    suggest_name,
)

__all__ = [
    "PLANS",
    "RUNNING",
    "ArchiveError",
    "CompileFailedError",
    "DraftConflictError",
    "JourneyNameError",
    "JourneyNotFoundError",
    "JourneyReferenceError",
    "JourneySummary",
    "LiveJourney",
    "LoadedPlan",
    "archive_blocker",
    "archive_journey",
    "count_journeys",
    "create_blank_journey",
    "create_from_starter",
    "create_journey",
    "draft_of",
    "duplicate_journey",
    "export_map",
    "get_journey",
    "import_journey",
    "list_journeys",
    "live_journeys",
    "publish_journey",
    "rename_journey",
    "resolve_journey",
    "restore_journey",
    "save_draft",
    "seed_starters",
    "suggest_name",
]
