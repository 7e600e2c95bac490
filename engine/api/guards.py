"""What every route shares: ids bounded to what both databases hold, /api bodies read only once the bearer token
is known and only up to a limit, and failures answered as JSON that names what is wrong, never with internals."""

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.accounts import AccessDeniedError
from engine.map import JourneyMap

logger = logging.getLogger(__name__)

#: Ids and revisions are PostgreSQL INTEGER columns; SQLite holds more, but both must answer alike.
MAX_DATABASE_ID = 2**31 - 1

#: The largest /api request body: a journey map with many long messages fits many times over.
MAX_API_BODY_BYTES = 5 * 1024 * 1024

JourneyId = Annotated[int, Path(ge=1, le=MAX_DATABASE_ID, description="a journey's id")]


def _nul_free(doc: JourneyMap) -> JourneyMap:
    """PostgreSQL's text cannot hold NUL (SQLite's can): refused in any text of a map, so both answer alike."""
    pending: list[tuple[str, Any]] = [("", doc.model_dump(mode="json"))]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{where or 'the map'}: text may not hold NUL characters")
        if isinstance(value, dict):
            pending.extend((f"{where}.{key}".lstrip("."), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return doc


#: A journey map as a request body.
JourneyMapBody = Annotated[JourneyMap, AfterValidator(_nul_free)]

MISSING_BEARER = "missing bearer token"


class BearerBeforeBody:
    """An /api request that carries a body is read only once its bearer token is valid, and only up to
    MAX_API_BODY_BYTES: FastAPI parses a body before the route's dependencies check who sent it.

    Which role may do what is still each route's check; this only keeps strangers' bodies unread.
    """

    def __init__(self, app: ASGIApp, verify: Callable[[str], None]) -> None:
        self.app = app
        self.verify = verify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not scope["path"].startswith("/api/") or not _has_body(headers):
            await self.app(scope, receive, send)
            return
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            await _refuse(scope, receive, send, 401, MISSING_BEARER)
            return
        try:
            await run_in_threadpool(self.verify, authorization[7:].strip())
        except AccessDeniedError as error:
            await _refuse(scope, receive, send, 401, str(error))
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_API_BODY_BYTES:
            await _refuse(scope, receive, send, 413, f"the body is {declared} bytes; the limit is {MAX_API_BODY_BYTES}")
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_API_BODY_BYTES:
                # FastAPI passes an HTTPException raised while it reads the body on to its handler.
                raise HTTPException(413, f"the body is over the limit of {MAX_API_BODY_BYTES} bytes")
            return message

        await self.app(scope, bounded, send)


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    await JSONResponse({"detail": detail}, status_code=status, headers=extra)(scope, receive, send)


def add_error_answers(api: FastAPI) -> None:
    """Invalid requests are told which field is wrong without the body echoed back; anything unforeseen is
    logged with its traceback and answered with a generic 500 (the real causes are fixed where they arise)."""

    async def invalid(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse(
            {"detail": "internal error: the request could not be answered; the server logged why"}, status_code=500
        )

    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(Exception, unexpected)


def answer(status: int) -> Callable[[Request, Exception], Any]:
    """A handler that answers a domain error with ``status`` and its message (and the problems it lists)."""

    async def handler(_: Request, error: Exception) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(error)}
        problems = getattr(error, "problems", None)
        if problems is not None:
            body["problems"] = [p.model_dump(mode="json") for p in problems]
        return JSONResponse(body, status_code=status)

    return handler
