"""The bare reference for benchmarks/intake.py: a FastAPI app that takes Segment's /v1/batch, validates each message
with pydantic and inserts the events into SQLite, nothing else (no write key, no profiles, no engine).

Served by uvicorn like the product: ``REFERENCE_DB=/tmp/x.db uvicorn --factory benchmarks.reference_intake:create_app``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field


class Message(BaseModel):
    type: str
    messageId: str | None = None  # noqa: N815 - Segment's field names
    userId: str | None = None  # noqa: N815
    anonymousId: str | None = None  # noqa: N815
    event: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    timestamp: str | None = None


class Batch(BaseModel):
    batch: list[Message]


def create_app() -> FastAPI:
    connection = sqlite3.connect(os.environ["REFERENCE_DB"], check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "create table if not exists event (id integer primary key, message_id text unique, user_id text,"
        " type text, name text, properties text)"
    )
    lock = threading.Lock()
    app = FastAPI()

    def store(batch: Batch) -> int:
        rows = [
            (m.messageId, m.userId or m.anonymousId, m.type, m.event, json.dumps(m.properties or m.traits))
            for m in batch.batch
        ]
        with lock, connection:
            connection.executemany(
                "insert into event (message_id, user_id, type, name, properties) values (?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    @app.post("/v1/batch")
    async def batch(request: Request) -> dict[str, Any]:
        parsed = Batch.model_validate_json(await request.body())
        return {"success": True, "accepted": await run_in_threadpool(store, parsed)}

    @app.get("/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    return app
