"""The /v1 routes: Segment-compatible event intake, and the unsubscribe link of every message.

A request costs the server a bounded amount before its write key is known: with an Authorization header a key
this process has not found valid within the last minute is looked up before a byte of the body is read; without one
(Segment's HTTP API also takes ``writeKey`` in the body) at most MAX_BATCH_BYTES are read and inflated, and the key
is looked for without building the document. A body declared or found longer is refused 413 without reading the
rest. Whatever was found earlier, the key is checked again in the transaction that stores the events.
"""

import base64
import binascii
import hashlib
import logging
import time
import zlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.requests import ClientDisconnect

from engine.accounts import AccessDeniedError, write_key_refusal
from engine.api.guards import MAX_DATABASE_ID
from engine.content import UnsubscribeError, unsubscribe
from engine.intake import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    AliasMessage,
    AnyMessage,
    GroupMessage,
    IdentifyMessage,
    IngestError,
    IntakeWriter,
    MessageKind,
    PageMessage,
    ScreenMessage,
    TooLargeError,
    TrackMessage,
    describe_rejections,
    parse_batch,
    parse_single,
)
from engine.store import session_scope

T = TypeVar("T")

log = logging.getLogger(__name__)

STORE_FAILED = "the events could not be stored just now; nothing of this request was kept: send it again"

MISSING_WRITE_KEY = "missing write key: send it as the HTTP Basic username or as writeKey in the body"

#: How long a write key found valid lets this process read its requests' bodies without looking it up first.
KEY_RECHECK_SECONDS = 60.0


class _Keyed(BaseModel):
    """Only the write key of a body: validated from JSON without building the rest of the document."""

    writeKey: str | None = None  # noqa: N815 - Segment's field name


def _write_key(authorization: str) -> str:
    """Segment's clients send the write key as the HTTP Basic username with an empty password."""
    if not authorization.lower().startswith("basic "):
        raise HTTPException(401, MISSING_WRITE_KEY)
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise HTTPException(401, "malformed Basic authorization header") from error
    return decoded.split(":", 1)[0]


def _body_write_key(body: bytes) -> str:
    """Segment's HTTP API also takes the key as ``writeKey`` in the body when no Authorization is sent."""
    try:
        key = _Keyed.model_validate_json(body).writeKey
    except ValidationError:
        key = None
    if not key:
        raise HTTPException(401, MISSING_WRITE_KEY)
    return key


async def _bounded_body(request: Request) -> bytes:
    """The body, read only while it stays within MAX_BATCH_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise HTTPException(413, f"the body is {declared} bytes; the limit is {MAX_BATCH_BYTES}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BATCH_BYTES:
                raise HTTPException(413, f"the body is over the limit of {MAX_BATCH_BYTES} bytes")
    except ClientDisconnect as error:
        raise HTTPException(400, "the connection closed before the body ended") from error
    return bytes(body)


def _decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Segment's libraries may gzip a request; inflate at most one byte past ``limit`` to know it is too long."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    if name != "gzip":
        raise HTTPException(415, f"unsupported Content-Encoding {name[:40]!r}: send gzip or no encoding")
    try:
        inflated = zlib.decompressobj(wbits=31).decompress(body, limit + 1)
    except zlib.error as error:
        raise HTTPException(400, f"the body is not valid gzip: {error}") from error
    if len(inflated) > limit:
        raise HTTPException(413, f"the body inflates past the limit of {limit} bytes")
    return inflated


class _RecentKeys:
    """Write keys this process found valid in the last ``KEY_RECHECK_SECONDS``: their requests' bodies are read
    without a look-up first. Each request's key is still checked in the transaction that stores its events, and
    before any other answer than a 401, so a revoked key stores nothing and learns nothing from the moment its
    revocation commits; what the window allows is only that its next bodies are read before they are refused.
    A look-up of its own cost an intake request a tenth of its CPU: a session, a transaction and a thread hop."""

    def __init__(self) -> None:
        # A key's hash and until when it needs no look-up; only keys found valid are kept, so their number is bounded
        # by the keys an admin has issued.
        self._until: dict[str, float] = {}

    def known(self, key: str) -> bool:
        return self._until.get(_digest(key), 0.0) > time.monotonic()

    def found_valid(self, key: str) -> None:
        self._until[_digest(key)] = time.monotonic() + KEY_RECHECK_SECONDS

    def found_refused(self, key: str) -> None:
        self._until.pop(_digest(key), None)


def _digest(key: str) -> str:
    # The secret itself is not kept in memory longer than its request.
    return hashlib.sha256(key.encode()).hexdigest()


def _parsed(body: bytes, parse: Callable[[bytes], T]) -> T:
    try:
        return parse(body)
    except TooLargeError as error:
        raise HTTPException(413, str(error)) from error
    except IngestError as error:
        raise HTTPException(400, str(error)) from error


def add_intake_routes(api: FastAPI, database_url: str | None) -> None:
    # Intake runs in the thread pool: database work must not stall the event loop other requests share.
    writer = IntakeWriter(database_url, write_key_refusal)
    recent = _RecentKeys()

    def check_key(key: str) -> None:
        with session_scope(database_url) as session:
            refused = write_key_refusal(session=session, secret=key)
        if refused is not None:
            recent.found_refused(key)
            raise HTTPException(401, str(refused)) from refused
        recent.found_valid(key)

    async def checked(key: str) -> None:
        if not recent.known(key):
            await run_in_threadpool(check_key, key)

    def store(key: str, messages: list[AnyMessage]) -> dict[str, Any]:
        try:
            result = writer.store(key, messages)
        except AccessDeniedError as error:
            recent.found_refused(key)
            raise HTTPException(401, str(error)) from error
        except DBAPIError as error:
            # A lost connection, a deadlock, a messageId another request is storing at this moment: nothing of the
            # request was stored, and sending it again is safe. The answer names no table, value or customer.
            log.exception("intake could not store a request of %s messages", len(messages))
            raise HTTPException(503, STORE_FAILED) from error
        recent.found_valid(key)
        return {"success": True, **result.model_dump()}

    async def received(request: Request, limit: int, parse: Callable[[bytes], T]) -> tuple[str, T]:
        """The request's write key and its parsed body. The key is checked before the body is judged: a caller without
        a valid key learns nothing about what the intake would have accepted."""
        authorization = request.headers.get("authorization")
        key = _write_key(authorization) if authorization else None
        if key is not None:
            await checked(key)
        try:
            body = _decoded(await _bounded_body(request), request.headers.get("content-encoding"), limit)
            if key is None:
                key = _body_write_key(body)
                await checked(key)
            return key, _parsed(body, parse)
        except HTTPException as refusal:
            if key is not None and refusal.status_code != 401:
                await run_in_threadpool(check_key, key)
            raise

    @api.post("/v1/batch", tags=["intake"])
    async def batch(request: Request) -> Any:
        """Messages of any type: each bad one is refused alone, listed under ``rejected`` with its index and reason."""
        key, parsed = await received(request, MAX_BATCH_BYTES, parse_batch)
        rejected = [{"index": r.index, "reason": r.reason} for r in parsed.rejected]
        if rejected and not parsed.messages:
            await run_in_threadpool(check_key, key)
            # Nothing could be stored, and sending it again would change nothing: Segment's libraries do not
            # retry a 400.
            return JSONResponse({"detail": describe_rejections(parsed.rejected), "rejected": rejected}, status_code=400)
        return {**await run_in_threadpool(store, key, parsed.messages), "rejected": rejected}

    def single(path: str, kind: MessageKind) -> None:
        async def route(request: Request) -> dict[str, Any]:
            key, message = await received(request, MAX_EVENT_BYTES, lambda body: parse_single(body, kind))
            return await run_in_threadpool(store, key, [message])

        api.add_api_route(path, route, methods=["POST"], tags=["intake"], operation_id=f"intake_{kind.__name__}")

    for path, kind in (
        ("/v1/track", TrackMessage),
        ("/v1/identify", IdentifyMessage),
        ("/v1/page", PageMessage),
        ("/v1/screen", ScreenMessage),
        ("/v1/group", GroupMessage),
        ("/v1/alias", AliasMessage),
    ):
        single(path, kind)

    def unsubscribe_link(
        p: Annotated[int, Query(ge=1, le=MAX_DATABASE_ID)],
        c: Annotated[str, Query(max_length=40)],
        s: Annotated[str, Query(max_length=200)],
    ) -> str:
        with session_scope(database_url) as session:
            try:
                unsubscribe(session=session, profile_id=p, channel=c, signature=s)
            except UnsubscribeError as error:
                raise HTTPException(400, str(error)) from error
        return f"<html><body><p>You will receive no more {c.replace('_', ' ')} messages from us.</p></body></html>"

    # GET for the link in the message, POST for mail clients' one-click unsubscribe (RFC 8058).
    for method in ("GET", "POST"):
        api.add_api_route(
            "/v1/unsubscribe",
            unsubscribe_link,
            methods=[method],
            tags=["intake"],
            response_class=HTMLResponse,
            operation_id=f"unsubscribe_{method.lower()}",
        )
