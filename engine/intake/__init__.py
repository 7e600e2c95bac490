"""Event intake in Segment's shape: parse and validate, store each event once, resolve the person.

Each stored batch is handed to the runtime's reactions in the order it happened.
"""

from engine.intake.ingest import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    BatchRequest,
    IdentifyMessage,
    IngestError,
    PageMessage,
    TrackMessage,
    ingest,
    parse_batch,
    parse_single,
)

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "BatchRequest",
    "IdentifyMessage",
    "IngestError",
    "PageMessage",
    "TrackMessage",
    "ingest",
    "parse_batch",
    "parse_single",
]
