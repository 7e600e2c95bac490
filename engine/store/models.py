"""Every table, imported in one place so the migrations see the whole schema."""

from sqlmodel import SQLModel

from engine.store.audit import AuditEntry
from engine.store.enrollments import Enrollment, Transition
from engine.store.events import Event, PendingEvent
from engine.store.inbox import InAppSecret, InboxMessage
from engine.store.journeys import Journey, JourneyVersion
from engine.store.keys import ApiToken, WriteKey
from engine.store.outbox import OutboxMessage, SendAttempt
from engine.store.profiles import Profile, ProfileAlias
from engine.store.sign_in_attempts import SignInAttempt
from engine.store.tasks import HumanTask
from engine.store.users import User, UserSession

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Enrollment",
    "Event",
    "HumanTask",
    "InAppSecret",
    "InboxMessage",
    "Journey",
    "JourneyVersion",
    "OutboxMessage",
    "PendingEvent",
    "Profile",
    "ProfileAlias",
    "SendAttempt",
    "SignInAttempt",
    "Transition",
    "User",
    "UserSession",
    "WriteKey",
    "metadata",
]
