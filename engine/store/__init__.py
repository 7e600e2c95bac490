"""SQLModel tables and the queries on them, one module per aggregate."""

from engine.store.audit import AuditEntry
from engine.store.db import (
    DEFAULT_SQLITE,
    PROJECT_ROOT,
    UtcDateTime,
    alembic_config,
    database_url,
    get_engine,
    normalise_url,
    session_scope,
    upgrade_database,
    utc_now,
)
from engine.store.enrollments import Enrollment, EnrollmentStatus, Transition
from engine.store.events import Event
from engine.store.journeys import (
    Journey,
    JourneyStatus,
    JourneyVersion,
    all_journeys,
    clear_archived,
    find_journey,
    find_journey_by_name,
    journey_names,
    latest_version_numbers,
    mark_archived,
    next_version_number,
    replace_draft,
    touch_journey,
)
from engine.store.keys import ApiToken, WriteKey
from engine.store.models import metadata
from engine.store.outbox import MessageStatus, OutboxMessage
from engine.store.profiles import Profile, ProfileAlias
from engine.store.users import EMAIL_LENGTH, NAME_LENGTH, Role, User, UserSession

__all__ = [
    "DEFAULT_SQLITE",
    "EMAIL_LENGTH",
    "NAME_LENGTH",
    "PROJECT_ROOT",
    "ApiToken",
    "AuditEntry",
    "Enrollment",
    "EnrollmentStatus",
    "Event",
    "Journey",
    "JourneyStatus",
    "JourneyVersion",
    "MessageStatus",
    "OutboxMessage",
    "Profile",
    "ProfileAlias",
    "Role",
    "Transition",
    "User",
    "UserSession",
    "UtcDateTime",
    "WriteKey",
    "alembic_config",
    "all_journeys",
    "clear_archived",
    "database_url",
    "find_journey",
    "find_journey_by_name",
    "get_engine",
    "journey_names",
    "latest_version_numbers",
    "mark_archived",
    "metadata",
    "next_version_number",
    "normalise_url",
    "replace_draft",
    "session_scope",
    "touch_journey",
    "upgrade_database",
    "utc_now",
]
