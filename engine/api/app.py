"""The HTTP API: Segment-compatible event intake under /v1 (engine/api/intake.py) and journey management
under /api.

Routes are thin: they authenticate, check the permission table and call the same service
functions the UI calls. The app is plain FastAPI, so it runs inside Reflex's backend (through
``api_transformer``) or on its own under any ASGI server. What every route shares (bounded ids and
bodies, error answers) is in engine/api/guards.py.
"""

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine.accounts import AccessDeniedError, Action, require, verify_api_token
from engine.api.guards import (
    MAX_DATABASE_ID,
    MISSING_BEARER,
    BearerBeforeBody,
    JourneyId,
    JourneyMapBody,
    add_error_answers,
    answer,
)
from engine.api.inbox import add_inbox_routes
from engine.api.intake import add_intake_routes
from engine.api.tasks import add_task_routes
from engine.journeys import service as journey_service
from engine.map import PausePolicy
from engine.runtime import lifecycle, runs
from engine.store import Role, session_scope

#: The journey list's page: its default and largest size, and how much of each description it shows.
DEFAULT_PAGE = 50
MAX_PAGE = 200
DESCRIPTION_EXCERPT = 200


class DraftUpdate(BaseModel):
    map: JourneyMapBody
    expected_revision: int = Field(ge=0, le=MAX_DATABASE_ID)


class ResumeRequest(BaseModel):
    policy: PausePolicy | None = None


class StopRequest(BaseModel):
    mode: lifecycle.StopMode = lifecycle.StopMode.NOW


class UnprocessableAnswer(BaseModel):
    """What a 422 carries: a request the schema refuses (``detail`` lists why, as FastAPI's own answer does) or a
    draft that does not compile (``detail`` says so and ``problems`` lists the compiler's findings)."""

    detail: str | list[dict[str, Any]]
    problems: list[dict[str, Any]] | None = None


def create_api(database_url: str | None = None, *, in_app_origins: Iterable[str] | None = None) -> FastAPI:
    """``in_app_origins``: the web origins whose pages may call the in-app inbox (default: JOURNEY_IN_APP_ORIGINS)."""
    if in_app_origins is None:
        in_app_origins = os.environ.get("JOURNEY_IN_APP_ORIGINS", "").split(",")
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
                raise HTTPException(401, MISSING_BEARER, headers={"WWW-Authenticate": "Bearer"})
            try:
                token = verify_api_token(session=session, secret=authorization[7:].strip())
                require(Role(token.role), action)
            except AccessDeniedError as error:
                raise HTTPException(403 if "may not" in str(error) else 401, str(error)) from error
            return f"token:{token.name}"

        return check

    def verify_token(secret: str) -> None:
        with session_scope(database_url) as session:
            verify_api_token(session=session, secret=secret)

    @api.get("/api/journeys", tags=["journeys"])
    def list_journeys(
        request: Request,
        response: Response,
        session: SessionArg,
        _: Annotated[str, Depends(actor(Action.VIEW_JOURNEYS))],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        offset: Annotated[int, Query(ge=0, le=MAX_DATABASE_ID)] = 0,
    ) -> list[Any]:
        """A page of journeys, most recently changed first: the total in X-Total-Count, the next page in Link."""
        total = journey_service.count_journeys(session=session)
        response.headers["X-Total-Count"] = str(total)
        if offset + limit < total:
            following = request.url.include_query_params(limit=limit, offset=offset + limit)
            response.headers["Link"] = f'<{following}>; rel="next"'
        return [
            _listed(summary) for summary in journey_service.list_journeys(session=session, limit=limit, offset=offset)
        ]

    @api.get("/api/journeys/{journey_id}", tags=["journeys"])
    def get_journey(
        journey_id: JourneyId, session: SessionArg, _: Annotated[str, Depends(actor(Action.VIEW_JOURNEYS))]
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
        doc: JourneyMapBody, session: SessionArg, who: Annotated[str, Depends(actor(Action.EDIT_DRAFT))]
    ) -> dict[str, Any]:
        journey = journey_service.import_journey(session=session, doc=doc, actor=who)
        return committed(session, {"id": journey.id, "revision": journey.revision})

    @api.put("/api/journeys/{journey_id}/draft", tags=["journeys"])
    def save_draft(
        journey_id: JourneyId,
        update: DraftUpdate,
        session: SessionArg,
        _: Annotated[str, Depends(actor(Action.EDIT_DRAFT))],
    ) -> dict[str, Any]:
        journey = journey_service.save_draft(
            session=session, journey_id=journey_id, doc=update.map, expected_revision=update.expected_revision
        )
        return committed(session, {"id": journey.id, "revision": journey.revision})

    # Documented because a draft that does not compile is a 422 of its own shape beside FastAPI's validation one.
    @api.post("/api/journeys/{journey_id}/publish", tags=["lifecycle"], responses={422: {"model": UnprocessableAnswer}})
    def publish(
        journey_id: JourneyId, session: SessionArg, who: Annotated[str, Depends(actor(Action.PUBLISH))]
    ) -> dict[str, Any]:
        version = journey_service.publish_journey(session=session, journey_id=journey_id, published_by=who)
        return committed(session, {"version": version.number})

    def _status(journey: Any) -> dict[str, Any]:
        return {"id": journey.id, "status": journey.status.value}

    @api.post("/api/journeys/{journey_id}/launch", tags=["lifecycle"])
    def launch(
        journey_id: JourneyId, session: SessionArg, who: Annotated[str, Depends(actor(Action.LAUNCH))]
    ) -> dict[str, Any]:
        return committed(session, _status(lifecycle.launch_journey(session=session, journey_id=journey_id, actor=who)))

    @api.post("/api/journeys/{journey_id}/pause", tags=["lifecycle"])
    def pause(
        journey_id: JourneyId, session: SessionArg, who: Annotated[str, Depends(actor(Action.PAUSE))]
    ) -> dict[str, Any]:
        return committed(session, _status(lifecycle.pause_journey(session=session, journey_id=journey_id, actor=who)))

    @api.post("/api/journeys/{journey_id}/resume", tags=["lifecycle"])
    def resume(
        journey_id: JourneyId,
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
        journey_id: JourneyId,
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
        journey_id: JourneyId,
        session: SessionArg,
        _: Annotated[str, Depends(actor(Action.VIEW_CUSTOMERS))],
    ) -> dict[str, Any]:
        journey_service.get_journey(session=session, journey_id=journey_id)
        return runs.run_overview(session=session, journey_id=journey_id).model_dump(mode="json")

    add_task_routes(api, sessions=sessions, actor=actor, committed=committed)
    api.add_exception_handler(journey_service.JourneyNotFoundError, answer(404))
    api.add_exception_handler(journey_service.DraftConflictError, answer(409))
    api.add_exception_handler(journey_service.JourneyNameError, answer(409))
    api.add_exception_handler(journey_service.CompileFailedError, answer(422))
    api.add_exception_handler(journey_service.ArchiveError, answer(409))
    api.add_exception_handler(lifecycle.LifecycleError, answer(409))
    add_error_answers(api)
    add_intake_routes(api, database_url)
    add_inbox_routes(api, database_url, in_app_origins)
    api.add_middleware(BearerBeforeBody, verify=verify_token)
    return api


def _listed(summary: journey_service.JourneySummary) -> dict[str, Any]:
    """A line of the journey list: no map, and only the start of a long description."""
    line = summary.model_dump(mode="json")
    if len(summary.description) > DESCRIPTION_EXCERPT:
        line["description"] = summary.description[:DESCRIPTION_EXCERPT].rstrip() + "…"
    return line
