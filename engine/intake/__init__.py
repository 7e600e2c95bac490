"""Event intake in Segment's shape: parse and check each message on its own, store each event once, resolve the
person (merging as ``identify`` and ``alias`` say), within the limits of ``engine.intake.limits``.

Each stored track, identify and group leaves a pending reaction, which the engine's consumer
(``engine.runtime.consume_events``) takes afterwards, in the order the events were stored.
"""

from engine.intake.ingest import GROUP_TRAIT, IngestResult, consent_changes, ingest, ingest_requests
from engine.intake.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    MAX_NESTING,
    MAX_PROPERTIES,
)
from engine.intake.messages import (
    AliasMessage,
    AnyMessage,
    GroupMessage,
    IdentifyMessage,
    IngestError,
    MessageKind,
    PageMessage,
    ParsedBatch,
    Rejection,
    ScreenMessage,
    TooLargeError,
    TrackMessage,
    describe_rejections,
    parse_batch,
    parse_single,
)
from engine.intake.writer import IntakeWriter, KeyCheck

__all__ = [
    "GROUP_TRAIT",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_EVENT_BYTES",
    "MAX_ID_CHARS",
    "MAX_NESTING",
    "MAX_PROPERTIES",
    "AliasMessage",
    "AnyMessage",
    "GroupMessage",
    "IdentifyMessage",
    "IngestError",
    "IngestResult",
    "IntakeWriter",
    "KeyCheck",
    "MessageKind",
    "PageMessage",
    "ParsedBatch",
    "Rejection",
    "ScreenMessage",
    "TooLargeError",
    "TrackMessage",
    "consent_changes",
    "describe_rejections",
    "ingest",
    "ingest_requests",
    "parse_batch",
    "parse_single",
]
