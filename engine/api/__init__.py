"""The engine's HTTP API as one FastAPI app: Segment-compatible intake under /v1 and journeys under /api.

Mounted by the web app's backend; authenticated by write keys (intake) and bearer tokens (API).
"""

from engine.api.app import create_api

__all__ = ["create_api"]
