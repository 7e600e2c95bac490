"""The engine's HTTP API as one FastAPI app: Segment-compatible intake under /v1 and journeys under /api.

Mounted by the web app's backend; authenticated by write keys (intake) and bearer tokens (API). Bodies are
bounded (MAX_API_BODY_BYTES for /api, engine.intake's limits for /v1) and read only once the caller is known.
"""

from engine.api.app import create_api
from engine.api.guards import MAX_API_BODY_BYTES, MAX_DATABASE_ID

__all__ = ["MAX_API_BODY_BYTES", "MAX_DATABASE_ID", "create_api"]
