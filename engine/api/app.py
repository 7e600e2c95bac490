"""The HTTP API: Segment-compatible event intake under /v1 and journey management under /api.

Routes are thin: they authenticate, check the permission table and call the same service
functions the UI calls. The app is plain FastAPI, so it runs inside Reflex's backend (through
``api_transformer``) or on its own under any ASGI server.
"""

import base64
import binascii
import json
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.accounts import AccessDeniedError, Action, require, verify_api_token, verify_write_key
from engine.content import UnsubscribeError, unsubscribe
from engine.intake import (
    MAX_BATCH_BYTES,
    IdentifyMessage,
    IngestError,
    PageMessage,
    TrackMessage,
    ingest,
    parse_batch,
    parse_single,
)
from engine.journeys import service as journey_service
from engine.map import JourneyMap, PausePolicy
from engine.runtime import lifecycle, runs
from engine.store import Role, get_engine, session_scope


class DraftUpdate(BaseModel):
    map: JourneyMap
    expected_revision: int = Field(ge=0)


class ResumeRequest(BaseModel):
    policy: PausePolicy | None = None


class StopRequest(BaseModel):
    mode: lifecycle.StopMode = lifecycle.StopMode.NOW


MISSING_WRITE_KEY = "missing write key: send it as the HTTP Basic username or as writeKey in the body"


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
        document = json.loads(body)
    except ValueError:
        document = None
    key = document.get("writeKey") if isinstance(document, dict) else None
    if not isinstance(key, str) or not key:
        raise HTTPException(401, MISSING_WRITE_KEY)
    return key


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """Segment's libraries may gzip a request; inflate at most one byte past the largest body allowed."""
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    if name != "gzip":
        raise HTTPException(415, f"unsupported Content-Encoding {encoding!r}: send gzip or no encoding")
    try:
        return zlib.decompressobj(wbits=31).decompress(body, MAX_BATCH_BYTES + 1)
    except zlib.error as error:
        raise HTTPException(400, f"the body is not valid gzip: {error}") from error


def create_api(database_url: str | None = None) -> FastAPI:
    api = FastAPI(title="Journey Builder API", version="1", docs_url="/api/docs", openapi_url="/api/openapi.json")

    def sessions() -> Iterator[Session]:
        # Routes that write commit before answering (see ``committed``): a dependency's exit may
        # run after the response is sent, and a client must never see success before the commit.
        with session_scope(database_url) as session:
            yield session

    def committed(session: Session, answer: dict[str, Any]) -> dict[str, Any]:
        session.commit()
        return answer

    SessionArg = Annotated[Session, Depends(sessions)]  # noqa: N806 - a type alias, named as one

    def actor(action: Action) -> Callable[..., str]:
        def check(session: SessionArg, authorization: Annotated[str | None, Header()] = None) -> str:
            if not authorization or not authorization.lower().startswith("bearer "):
                raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
            try:
                token = verify_api_token(session=session, secret=authorization[7:].strip())
                require(Role(token.role), action)
            except AccessDeniedError as error:
                raise HTTPException(403 if "may not" in str(error) else 401, str(error)) from error
            return f"token:{token.name}"

        return check

    # Intake runs in the thread pool: database work must not stall the event loop other requests share.
    # SQLite takes one writer at a time; queueing writers here is cheaper than its busy-wait retries.
    writers: AbstractContextManager[Any] = (
        threading.Lock() if get_engine(database_url).dialect.name == "sqlite" else nullcontext()
    )

    def intake(
        body: bytes, authorization: str | None, encoding: str | None, messages: Callable[[bytes], list[Any]]
    ) -> dict[str, Any]:
        key = _write_key(authorization) if authorization else _body_write_key(_decoded(body, encoding))
        # The key is checked before the body is judged: a caller without a valid key learns nothing
        # about what the intake would have accepted.
        with session_scope(database_url) as session:
            try:
                verify_write_key(session=session, secret=key)
            except AccessDeniedError as error:
                raise HTTPException(401, str(error)) from error
        try:
            parsed = messages(_decoded(body, encoding))
        except IngestError as error:
            raise HTTPException(400, str(error)) from error
        with writers, session_scope(database_url) as session:
            result = ingest(session=session, messages=parsed)
        return {"success": True, **result.model_dump()}

    def single(kind: type[TrackMessage | IdentifyMessage | PageMessage]) -> Callable[[bytes], list[Any]]:
        return lambda body: [parse_single(body, kind)]

    @api.post("/v1/batch", tags=["intake"])
    async def batch(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return await run_in_threadpool(
            intake, await request.body(), authorization, request.headers.get("content-encoding"), parse_batch
        )

    @api.post("/v1/track", tags=["intake"])
    async def track(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return await run_in_threadpool(
            intake, await request.body(), authorization, request.headers.get("content-encoding"), single(TrackMessage)
        )

    @api.post("/v1/identify", tags=["intake"])
    async def identify(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return await run_in_threadpool(
            intake,
            await request.body(),
            authorization,
            request.headers.get("content-encoding"),
            single(IdentifyMessage),
        )

    @api.post("/v1/page", tags=["intake"])
    async def page(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return await run_in_threadpool(
            intake, await request.body(), authorization, request.headers.get("content-encoding"), single(PageMessage)
        )

    def unsubscribe_link(p: int, c: str, s: str, session: SessionArg) -> str:
        try:
            unsubscribe(session=session, profile_id=p, channel=c, signature=s)
        except UnsubscribeError as error:
            raise HTTPException(400, str(error)) from error
        session.commit()
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

    @api.get("/api/journeys", tags=["journeys"])
    def list_journeys(session: SessionArg, _: Annotated[str, Depends(actor(Action.VIEW_JOURNEYS))]) -> list[Any]:
        return [summary.model_dump(mode="json") for summary in journey_service.list_journeys(session=session)]

    @api.get("/api/journeys/{journey_id}", tags=["journeys"])
    def get_journey(
        journey_id: int, session: SessionArg, _: Annotated[str, Depends(actor(Action.VIEW_JOURNEYS))]
    ) -> dict[str, Any]:
        journey = journey_service.get_journey(session=session, journey_id=journey_id)
        return {
            "id": journey.id,
            "name": journey.name,
            "status": journey.status.value,
            "revision": journey.revision,
            "map": journey.draft_map,
            "versions": [
                {"number": v.number, "published_at": v.published_at.isoformat(), "published_by": v.published_by}
                for v in runs.versions(session=session, journey_id=journey_id)
            ],
        }

    @api.post("/api/journeys", tags=["journeys"], status_code=201)
    def create_journey(
        doc: JourneyMap, session: SessionArg, who: Annotated[str, Depends(actor(Action.EDIT_DRAFT))]
    ) -> dict[str, Any]:
        journey = journey_service.create_journey(session=session, doc=doc, created_by=who)
        return committed(session, {"id": journey.id, "revision": journey.revision})

    @api.put("/api/journeys/{journey_id}/draft", tags=["journeys"])
    def save_draft(
        journey_id: int,
        update: DraftUpdate,
        session: SessionArg,
        _: Annotated[str, Depends(actor(Action.EDIT_DRAFT))],
    ) -> dict[str, Any]:
        journey = journey_service.save_draft(
            session=session, journey_id=journey_id, doc=update.map, expected_revision=update.expected_revision
        )
        return committed(session, {"id": journey.id, "revision": journey.revision})

    @api.post("/api/journeys/{journey_id}/publish", tags=["lifecycle"])
    def publish(
        journey_id: int, session: SessionArg, who: Annotated[str, Depends(actor(Action.PUBLISH))]
    ) -> dict[str, Any]:
        version = journey_service.publish_journey(session=session, journey_id=journey_id, published_by=who)
        return committed(session, {"version": version.number})

    def _status(journey: Any) -> dict[str, Any]:
        return {"id": journey.id, "status": journey.status.value}

    @api.post("/api/journeys/{journey_id}/launch", tags=["lifecycle"])
    def launch(
        journey_id: int, session: SessionArg, who: Annotated[str, Depends(actor(Action.LAUNCH))]
    ) -> dict[str, Any]:
        return committed(session, _status(lifecycle.launch_journey(session=session, journey_id=journey_id, actor=who)))

    @api.post("/api/journeys/{journey_id}/pause", tags=["lifecycle"])
    def pause(
        journey_id: int, session: SessionArg, who: Annotated[str, Depends(actor(Action.PAUSE))]
    ) -> dict[str, Any]:
        return committed(session, _status(lifecycle.pause_journey(session=session, journey_id=journey_id, actor=who)))

    @api.post("/api/journeys/{journey_id}/resume", tags=["lifecycle"])
    def resume(
        journey_id: int,
        session: SessionArg,
        who: Annotated[str, Depends(actor(Action.RESUME))],
        body: ResumeRequest | None = None,
    ) -> dict[str, Any]:
        policy = body.policy if body else None
        return committed(
            session, _status(lifecycle.resume_journey(session=session, journey_id=journey_id, actor=who, policy=policy))
        )

    @api.post("/api/journeys/{journey_id}/stop", tags=["lifecycle"])
    def stop(
        journey_id: int,
        session: SessionArg,
        who: Annotated[str, Depends(actor(Action.STOP))],
        body: StopRequest | None = None,
    ) -> dict[str, Any]:
        mode = body.mode if body else lifecycle.StopMode.NOW
        return committed(
            session, _status(lifecycle.stop_journey(session=session, journey_id=journey_id, actor=who, mode=mode))
        )

    # Recent messages name their recipients: customer data, which designers and executives do not see.
    @api.get("/api/journeys/{journey_id}/runs", tags=["journeys"])
    def journey_runs(
        journey_id: int,
        session: SessionArg,
        _: Annotated[str, Depends(actor(Action.VIEW_CUSTOMERS))],
    ) -> dict[str, Any]:
        journey_service.get_journey(session=session, journey_id=journey_id)
        return runs.run_overview(session=session, journey_id=journey_id).model_dump(mode="json")

    _errors(api)
    return api


def _errors(api: FastAPI) -> None:
    """Domain errors become HTTP answers that name what is wrong."""

    def answer(status: int) -> Callable[[Request, Exception], Any]:
        async def handler(_: Request, error: Exception) -> JSONResponse:
            body: dict[str, Any] = {"detail": str(error)}
            problems = getattr(error, "problems", None)
            if problems is not None:
                body["problems"] = [p.model_dump(mode="json") for p in problems]
            return JSONResponse(body, status_code=status)

        return handler

    api.add_exception_handler(journey_service.JourneyNotFoundError, answer(404))
    api.add_exception_handler(journey_service.DraftConflictError, answer(409))
    api.add_exception_handler(journey_service.CompileFailedError, answer(422))
    api.add_exception_handler(lifecycle.LifecycleError, answer(409))
