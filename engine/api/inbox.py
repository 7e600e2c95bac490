"""The public in-app inbox: what a customer's own app or website calls to show their in-app messages and to say
what they did with them; and ``/inapp.js``, the drop-in snippet that does so on a web page.

Every call names the customer with a token their app got from its own backend (``engine.accounts.in_app_tokens``),
never with a write key. Calls are ``POST`` with the token in a JSON body (or ``Authorization: Bearer``), so a browser
sends them as CORS "simple" requests (``Content-Type: text/plain``) with no preflight, and the token never sits in a
URL. Read, clicked and dismissed are stored as the events ``in_app_opened``, ``in_app_clicked`` and
``in_app_dismissed`` through the same intake as every other event, so journeys wait for and branch on them. The JSON
API is described in docs/in-app.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.accounts import MAX_TOKEN_LENGTH, TokenError, verify_customer_token
from engine.api.guards import MAX_DATABASE_ID
from engine.intake import TrackMessage, ingest
from engine.store import (
    InboxAction,
    InboxMessage,
    mark_inbox_message,
    open_inbox_messages,
    session_scope,
    utc_now,
    writer_turns,
)

log = logging.getLogger(__name__)

PREFIX = "/inapp/v1"
#: A request body holds a token and a flag: anything longer is not one.
MAX_INBOX_BODY_BYTES = 8 * 1024
#: The most messages one listing returns, newest first.
MAX_LISTED = 50
NO_TOKEN = 'missing customer token: send it as "token" in the JSON body or as Authorization: Bearer'


class InboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(None, max_length=MAX_TOKEN_LENGTH)
    unread_only: bool = False


class InAppCors:
    """Cross-origin calls to the inbox API only from the origins allowed (``JOURNEY_IN_APP_ORIGINS``; ``*`` allows
    any). A call from another origin is refused here, 403, before it runs: a browser would hide the answer of a
    simple request from the page anyway, but the request itself (a click recorded) must not happen either. Calls
    without an ``Origin`` (mobile apps, servers) pass. No credentials: the token is the customer's proof."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(origin.strip().rstrip("/") for origin in origins if origin.strip())

    def _allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(f"{PREFIX}/"):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if not self._allowed(origin):
            detail = (
                f"the origin {origin[:200]!r} may not call the in-app API (JOURNEY_IN_APP_ORIGINS lists those that may)"
            )
            await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
            return
        allow = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if scope["method"] == "OPTIONS":
            preflight = {
                **allow,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            }
            await Response(status_code=204, headers=preflight)(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in allow.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_cors)


def _shown(message: InboxMessage) -> dict[str, Any]:
    def at(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "id": message.id,
        "title": message.title,
        "body": message.body,
        "button": {"label": message.button_label, "url": message.button_url} if message.button_url else None,
        "journey_id": message.journey_id,
        "node_id": message.node_id,
        "created_at": at(message.created_at),
        "expires_at": at(message.expires_at),
        "read_at": at(message.read_at),
        "clicked_at": at(message.clicked_at),
        "dismissed_at": at(message.dismissed_at),
    }


def _event(message: InboxMessage, action: InboxAction, now: datetime) -> TrackMessage:
    # One messageId per message and action: the intake stores an event once, whatever retries the app makes.
    return TrackMessage(
        userId=message.user_id,
        event=action.event,
        messageId=f"in-app-{message.id}-{action.value}",
        timestamp=now,
        properties={"message_id": message.id, "journey_id": message.journey_id, "node_id": message.node_id},
    )


async def _request(request: Request) -> tuple[str, InboxRequest]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_INBOX_BODY_BYTES:
        raise HTTPException(413, f"the body is {declared} bytes; the limit is {MAX_INBOX_BODY_BYTES}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_INBOX_BODY_BYTES:
            raise HTTPException(413, f"the body is over the limit of {MAX_INBOX_BODY_BYTES} bytes")
    try:
        parsed = InboxRequest.model_validate_json(bytes(body) or b"{}")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
        raise HTTPException(422, f'the body must be a JSON object such as {{"token": "..."}}: {problems}') from None
    authorization = request.headers.get("authorization", "")
    token = parsed.token or (authorization[7:].strip() if authorization.lower().startswith("bearer ") else "")
    if not token:
        raise HTTPException(401, NO_TOKEN)
    return token, parsed


def add_inbox_routes(api: FastAPI, database_url: str | None, origins: Iterable[str]) -> None:
    writers = writer_turns(database_url)

    def customer(token: str) -> str:
        with session_scope(database_url) as session:
            try:
                return verify_customer_token(session=session, token=token)
            except TokenError as error:
                raise HTTPException(401, str(error)) from error

    def listed(user_id: str, unread_only: bool) -> dict[str, Any]:
        with session_scope(database_url) as session:
            found = open_inbox_messages(session, user_id, utc_now(), unread_only=unread_only, limit=MAX_LISTED)
            return {"user_id": user_id, "messages": [_shown(m) for m in found]}

    def marked(user_id: str, message_id: int, action: InboxAction) -> dict[str, Any]:
        now = utc_now()
        try:
            with writers, session_scope(database_url) as session:
                message = session.get(InboxMessage, message_id, with_for_update=True)
                if message is None:
                    raise HTTPException(404, f"no in-app message {message_id}")
                if message.user_id != user_id:
                    raise HTTPException(403, f"in-app message {message_id} is not this customer's")
                if message.expires_at <= now:
                    ended = f"{message.expires_at:%Y-%m-%d %H:%M} UTC"
                    raise HTTPException(410, f"in-app message {message_id} expired at {ended}")
                done = mark_inbox_message(message, action, now)
                # A test send is nobody's event: it counts in no timeline, journey or KPI.
                if done and not message.is_test:
                    ingest(session=session, messages=[_event(message, a, now) for a in done], now=now)
                return _shown(message)
        except DBAPIError as error:
            log.exception("in-app message %s could not be marked %s", message_id, action.value)
            raise HTTPException(503, "the action could not be stored just now; send it again") from error

    @api.post(f"{PREFIX}/messages", tags=["in-app"])
    async def list_messages(request: Request) -> dict[str, Any]:
        """The customer's in-app messages neither dismissed nor expired, newest first (``unread_only``: not read)."""
        token, parsed = await _request(request)
        user_id = await run_in_threadpool(customer, token)
        return await run_in_threadpool(listed, user_id, parsed.unread_only)

    @api.post(f"{PREFIX}/messages/{{message_id}}/{{action}}", tags=["in-app"])
    async def mark_message(
        request: Request,
        message_id: Annotated[int, Path(ge=1, le=MAX_DATABASE_ID)],
        action: InboxAction,
    ) -> dict[str, Any]:
        """Record that the customer read, clicked or dismissed a message of theirs (each once); stored as an event."""
        token, _ = await _request(request)
        user_id = await run_in_threadpool(customer, token)
        return await run_in_threadpool(marked, user_id, message_id, action)

    snippet = resources.files("engine.api").joinpath("inapp.js").read_text(encoding="utf-8")

    @api.get("/inapp.js", tags=["in-app"], response_class=Response)
    def inapp_js() -> Response:
        """The drop-in snippet: ``<script src=".../inapp.js" data-token="..."></script>`` shows the inbox."""
        return Response(snippet, media_type="text/javascript", headers={"Cache-Control": "public, max-age=300"})

    api.add_middleware(InAppCors, origins=origins)
