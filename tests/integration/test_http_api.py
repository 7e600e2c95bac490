"""The HTTP API served by uvicorn on 127.0.0.1: routing, authentication, permissions and error answers."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from engine.accounts import create_api_token, create_write_key, revoke_write_key
from engine.intake import MAX_BATCH_BYTES, MAX_EVENT_BYTES
from engine.store import Enrollment, Event, Journey, Profile, Role, audit, get_engine, session_scope
from tests.engine_factories import event_trigger, journey_map, node, react_to_pending
from tests.integration.journey_harness import api_server


class Api:
    """The app under test with one write key and one bearer token per role."""

    def __init__(self, database_url: str, client: httpx.Client) -> None:
        self.database_url = database_url
        self.client = client
        with session_scope(database_url) as session:
            self.write_key = create_write_key(session=session, name="storefront").secret
            self.tokens = {role: create_api_token(session=session, name=role.value, role=role).secret for role in Role}

    def intake(self, path: str, body: Any, *, key: str | None = None) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(path, content=content, auth=(key if key is not None else self.write_key, ""))

    def as_role(self, role: Role, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return self.client.request(method, path, json=body, headers=headers)

    def count(self, table: type) -> int:
        with session_scope(self.database_url) as session:
            return int(session.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    with api_server(db_url) as url, httpx.Client(base_url=url) as client:
        yield Api(db_url, client)


def waiting_map(name: str = "Welcome") -> dict[str, Any]:
    doc = journey_map(
        [event_trigger("signed_up"), node("hold", "wait", duration="P1D")], [("entry", "hold")], name=name
    )
    return doc.model_dump(mode="json")


def broken_map() -> dict[str, Any]:
    """No trigger: the compiler refuses to publish it."""
    return journey_map([node("hold", "wait", duration="P1D")], [], name="Broken").model_dump(mode="json")


def create(api: Api, doc: dict[str, Any]) -> int:
    response = api.as_role(Role.DESIGNER, "POST", "/api/journeys", doc)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


TRACK = {"userId": "u1", "event": "signed_up", "messageId": "m-1", "properties": {"plan": "pro"}}


def test_intake_without_a_write_key_is_refused(api: Api) -> None:
    response = api.client.post("/v1/track", json=TRACK)

    assert response.status_code == 401
    assert "write key" in response.json()["detail"]
    assert api.count(Event) == 0


@pytest.mark.parametrize(
    "authorization",
    ["Basic " + base64.b64encode(b"wk_wrong:").decode(), "Basic not-base64!", "Bearer something"],
)
def test_intake_with_a_bad_write_key_is_refused(api: Api, authorization: str) -> None:
    response = api.client.post("/v1/track", json=TRACK, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert api.count(Event) == 0


def test_intake_with_a_revoked_write_key_is_refused(api: Api) -> None:
    with session_scope(api.database_url) as session:
        issued = create_write_key(session=session, name="old")
        revoke_write_key(session=session, key_id=issued.id)

    response = api.intake("/v1/track", TRACK, key=issued.secret)

    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked write key"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/track", {**TRACK, "messageId": "m-2"}),
        ("/v1/track", b"{not json"),
        ("/v1/batch", {"batch": [{"type": "track", "userId": "u2"}]}),
        ("/v1/batch", b"x" * (MAX_BATCH_BYTES + 1)),
    ],
)
def test_a_key_revoked_after_it_was_used_stores_nothing_and_learns_nothing_at_once(
    api: Api, path: str, body: Any
) -> None:
    with session_scope(api.database_url) as session:
        issued = create_write_key(session=session, name="leaked")
    assert api.intake("/v1/track", TRACK, key=issued.secret).status_code == 200
    with session_scope(api.database_url) as session:
        revoke_write_key(session=session, key_id=issued.id)

    response = api.intake(path, body, key=issued.secret)

    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked write key"
    assert api.count(Event) == 1


def test_a_key_found_valid_lately_is_looked_up_once_a_request_in_the_transaction_that_stores(api: Api) -> None:
    assert api.intake("/v1/track", TRACK).status_code == 200
    statements: list[str] = []

    def noted(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "write_key" in statement:
            statements.append(statement)

    engine = get_engine(api.database_url)
    event.listen(engine, "before_cursor_execute", noted)
    try:
        response = api.intake("/v1/track", {**TRACK, "messageId": "m-2"})
    finally:
        event.remove(engine, "before_cursor_execute", noted)

    assert response.status_code == 200
    assert len(statements) == 1
    assert api.count(Event) == 2


def test_the_write_key_is_checked_before_the_body(api: Api) -> None:
    response = api.intake("/v1/track", b"{not json", key="wk_wrong")

    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked write key"


def test_the_write_key_may_come_in_the_body(api: Api) -> None:
    batch = {"writeKey": api.write_key, "batch": [{"type": "track", **TRACK}]}

    accepted = api.client.post("/v1/batch", json=batch)
    refused = api.client.post("/v1/batch", json={**batch, "writeKey": "wk_wrong"})

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401
    assert api.count(Event) == 1


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/v1/track", b"{not json", "invalid payload"),
        ("/v1/track", {"userId": "u1"}, "event"),
        ("/v1/identify", {"traits": {"plan": "pro"}}, "either userId or anonymousId is required"),
        ("/v1/page", {"userId": "u1", "properties": "none"}, "properties"),
        ("/v1/batch", {"batch": [TRACK, {"type": "track", "userId": "u2"}]}, "batch.1"),
        ("/v1/batch", {"events": []}, "batch"),
    ],
)
def test_a_malformed_body_is_refused_with_a_reason_and_nothing_is_stored(
    api: Api, path: str, body: Any, reason: str
) -> None:
    response = api.intake(path, body)

    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert (api.count(Event), api.count(Profile)) == (0, 0)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/v1/track", {**TRACK, "properties": {"p": "x" * MAX_EVENT_BYTES}}, str(MAX_EVENT_BYTES)),
        ("/v1/batch", {"batch": [{**TRACK, "properties": {"p": "x" * MAX_BATCH_BYTES}}]}, str(MAX_BATCH_BYTES)),
    ],
)
def test_an_oversized_body_is_refused_413_with_the_limit_and_nothing_is_stored(
    api: Api, path: str, body: Any, reason: str
) -> None:
    response = api.intake(path, body)

    assert response.status_code == 413
    assert reason in response.json()["detail"]
    assert (api.count(Event), api.count(Profile)) == (0, 0)


def test_a_gzipped_body_is_inflated(api: Api) -> None:
    body = gzip.compress(json.dumps(TRACK).encode())

    response = api.client.post(
        "/v1/track", content=body, headers={"Content-Encoding": "gzip"}, auth=(api.write_key, "")
    )

    assert response.json()["success"] is True
    assert api.count(Event) == 1


@pytest.mark.parametrize(
    ("encoding", "body", "status", "reason"),
    [
        (
            "gzip",
            gzip.compress(json.dumps({"batch": [{**TRACK, "p": "x" * 10 * MAX_BATCH_BYTES}]}).encode()),
            413,
            "limit",
        ),
        ("gzip", b"not gzip at all", 400, "not valid gzip"),
        ("br", json.dumps({"batch": [TRACK]}).encode(), 415, "unsupported Content-Encoding 'br'"),
    ],
)
def test_a_bad_or_oversized_encoded_body_is_refused(
    api: Api, encoding: str, body: bytes, status: int, reason: str
) -> None:
    response = api.client.post(
        "/v1/batch", content=body, headers={"Content-Encoding": encoding}, auth=(api.write_key, "")
    )

    assert response.status_code == status
    assert reason in response.json()["detail"]
    assert api.count(Event) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/track", TRACK),
        ("/v1/identify", {"userId": "u1", "traits": {"email": "u1@example.com"}}),
        ("/v1/page", {"anonymousId": "a1", "name": "Pricing"}),
        ("/v1/batch", {"batch": [{"type": "identify", "userId": "u1"}, {**TRACK, "type": "track"}]}),
    ],
)
def test_good_intake_answers_success_and_stores_the_events(api: Api, path: str, body: Any) -> None:
    response = api.intake(path, body)

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert api.count(Event) == len(body.get("batch", [body]))


def test_a_tracked_event_enrolls_into_a_live_journey_over_http(api: Api) -> None:
    journey_id = create(api, waiting_map())
    for action in ("publish", "launch"):
        assert api.as_role(Role.MARKETER, "POST", f"/api/journeys/{journey_id}/{action}").status_code == 200

    response = api.intake("/v1/track", TRACK)

    assert response.json() == {"success": True, "accepted": 1, "duplicates": 0}
    assert react_to_pending(api.database_url) == 1
    assert api.count(Enrollment) == 1
    runs = api.as_role(Role.MARKETER, "GET", f"/api/journeys/{journey_id}/runs").json()
    assert runs["in_flight"] == 1
    assert runs["waiting_by_node"] == [{"node_id": "hold", "waiting": 1}]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/journeys"), ("GET", "/api/journeys/1"), ("POST", "/api/journeys/1/launch")],
)
def test_management_routes_need_a_bearer_token(api: Api, method: str, path: str) -> None:
    missing = api.client.request(method, path)
    unknown = api.client.request(method, path, headers={"Authorization": "Bearer jb_unknown"})

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "unknown or revoked API token"


def test_a_designer_cannot_launch(api: Api) -> None:
    journey_id = create(api, waiting_map())
    assert api.as_role(Role.MARKETER, "POST", f"/api/journeys/{journey_id}/publish").status_code == 200

    response = api.as_role(Role.DESIGNER, "POST", f"/api/journeys/{journey_id}/launch")

    assert response.status_code == 403
    assert response.json()["detail"] == "a designer may not launch"
    with session_scope(api.database_url) as session:
        journey = session.get(Journey, journey_id)
        assert journey is not None
        assert journey.status.value == "draft"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/journeys", "map"),
        ("PUT", "/api/journeys/{id}/draft", "update"),
        ("POST", "/api/journeys/{id}/publish", None),
        ("POST", "/api/journeys/{id}/pause", None),
    ],
)
def test_an_executive_cannot_change_anything(api: Api, method: str, path: str, body: str | None) -> None:
    journey_id = create(api, waiting_map())
    payload = {"map": waiting_map("Renamed"), "expected_revision": 1} if body == "update" else None
    payload = waiting_map() if body == "map" else payload

    response = api.as_role(Role.EXECUTIVE, method, path.format(id=journey_id), payload)

    assert response.status_code == 403
    assert response.json()["detail"].startswith("an executive may not")
    assert api.count(Journey) == 1
    assert api.as_role(Role.EXECUTIVE, "GET", f"/api/journeys/{journey_id}").json()["name"] == "Welcome"


@pytest.mark.parametrize("role", [Role.DESIGNER, Role.EXECUTIVE])
def test_who_received_which_message_is_not_shown_to_designers_and_executives(api: Api, role: Role) -> None:
    journey_id = create(api, waiting_map())

    refused = api.as_role(role, "GET", f"/api/journeys/{journey_id}/runs")
    allowed = api.as_role(Role.MARKETER, "GET", f"/api/journeys/{journey_id}/runs")

    assert refused.status_code == 403
    assert refused.json()["detail"].endswith("may not view customers")
    assert allowed.status_code == 200


def test_publishing_a_broken_draft_answers_422_with_the_problems(api: Api) -> None:
    journey_id = create(api, broken_map())

    response = api.as_role(Role.MARKETER, "POST", f"/api/journeys/{journey_id}/publish")

    assert response.status_code == 422
    body = response.json()
    assert "cannot be published" in body["detail"]
    assert "no_trigger" in {p["code"] for p in body["problems"]}
    assert api.as_role(Role.MARKETER, "GET", f"/api/journeys/{journey_id}").json()["versions"] == []


def test_saving_a_stale_draft_answers_409(api: Api) -> None:
    journey_id = create(api, waiting_map())
    first = api.as_role(
        Role.DESIGNER, "PUT", f"/api/journeys/{journey_id}/draft", {"map": waiting_map("One"), "expected_revision": 1}
    )

    stale = api.as_role(
        Role.DESIGNER, "PUT", f"/api/journeys/{journey_id}/draft", {"map": waiting_map("Two"), "expected_revision": 1}
    )

    assert first.json() == {"id": journey_id, "revision": 2}
    assert stale.status_code == 409
    assert "saved by someone else" in stale.json()["detail"]
    assert api.as_role(Role.DESIGNER, "GET", f"/api/journeys/{journey_id}").json()["name"] == "One"


def test_journey_names_are_unique_through_the_api_as_on_the_journeys_list(api: Api) -> None:
    first = create(api, waiting_map("Welcome"))
    other = create(api, waiting_map("Winback"))

    taken = api.as_role(Role.DESIGNER, "POST", "/api/journeys", waiting_map("  WELCOME "))
    renamed = api.as_role(
        Role.DESIGNER, "PUT", f"/api/journeys/{other}/draft", {"map": waiting_map("welcome"), "expected_revision": 1}
    )

    assert taken.status_code == 409
    assert taken.json()["detail"] == (
        "another journey is already called 'Welcome'; choose another name, such as 'WELCOME (2)'"
    )
    assert renamed.status_code == 409
    assert "such as 'welcome (2)'" in renamed.json()["detail"]
    assert api.as_role(Role.DESIGNER, "GET", f"/api/journeys/{other}").json()["name"] == "Winback"
    # Saving a draft under its own name, or a free one, is no rename to refuse.
    same = api.as_role(
        Role.DESIGNER, "PUT", f"/api/journeys/{first}/draft", {"map": waiting_map("Welcome"), "expected_revision": 1}
    )
    assert same.status_code == 200, same.text


def test_an_invalid_lifecycle_transition_answers_409(api: Api) -> None:
    journey_id = create(api, waiting_map())

    unpublished = api.as_role(Role.MARKETER, "POST", f"/api/journeys/{journey_id}/launch")
    paused_draft = api.as_role(Role.MARKETER, "POST", f"/api/journeys/{journey_id}/pause")

    assert unpublished.status_code == 409
    assert "publish a version first" in unpublished.json()["detail"]
    assert paused_draft.status_code == 409
    assert paused_draft.json()["detail"] == "cannot pause journey 'Welcome': it is draft, and pause needs live"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/journeys/999"),
        ("GET", "/api/journeys/999/runs"),
        ("POST", "/api/journeys/999/publish"),
        ("POST", "/api/journeys/999/launch"),
    ],
)
def test_an_unknown_journey_answers_404(api: Api, method: str, path: str) -> None:
    response = api.as_role(Role.ADMIN, method, path)

    assert response.status_code == 404
    assert response.json()["detail"] == "there is no journey with id 999"


def test_a_marketer_runs_the_whole_lifecycle(api: Api) -> None:
    journey_id = create(api, waiting_map())
    base = f"/api/journeys/{journey_id}"

    answers = [
        api.as_role(Role.MARKETER, "POST", f"{base}/publish").json(),
        api.as_role(Role.MARKETER, "POST", f"{base}/launch").json(),
        api.as_role(Role.MARKETER, "POST", f"{base}/pause").json(),
        api.as_role(Role.MARKETER, "POST", f"{base}/resume", {"policy": "send_late"}).json(),
        api.as_role(Role.MARKETER, "POST", f"{base}/stop", {"mode": "now"}).json(),
    ]

    assert answers == [
        {"version": 1},
        {"id": journey_id, "status": "live"},
        {"id": journey_id, "status": "paused"},
        {"id": journey_id, "status": "live"},
        {"id": journey_id, "status": "stopped"},
    ]
    detail = api.as_role(Role.EXECUTIVE, "GET", base).json()
    assert detail["status"] == "stopped"
    assert [v["published_by"] for v in detail["versions"]] == ["token:marketer"]
    with session_scope(api.database_url) as session:
        trail = [(e.action, e.actor, e.detail) for e in reversed(audit.entries(session=session, journey_id=journey_id))]
    assert trail == [
        ("journey.create", "token:designer", {"name": "Welcome", "starter": None}),
        ("launch", "token:marketer", {"version": 1}),
        ("pause", "token:marketer", {}),
        ("resume", "token:marketer", {"policy": "send_late", "overdue_customers": 0}),
        ("stop", "token:marketer", {"ended_runs": 0}),
    ]


def test_resume_and_stop_without_a_body_use_the_maps_policy_and_stop_now(api: Api) -> None:
    journey_id = create(api, waiting_map())
    base = f"/api/journeys/{journey_id}"
    for action in ("publish", "launch", "pause"):
        api.as_role(Role.MARKETER, "POST", f"{base}/{action}")

    resumed = api.as_role(Role.MARKETER, "POST", f"{base}/resume")
    stopped = api.as_role(Role.MARKETER, "POST", f"{base}/stop")

    assert resumed.json() == {"id": journey_id, "status": "live"}
    assert stopped.json() == {"id": journey_id, "status": "stopped"}
    with session_scope(api.database_url) as session:
        resume = audit.entries(session=session, journey_id=journey_id)[1]
        assert resume.detail["policy"] == "skip_overdue_sends"


def test_a_drain_is_asked_for_in_the_stop_body(api: Api) -> None:
    journey_id = create(api, waiting_map())
    base = f"/api/journeys/{journey_id}"
    api.as_role(Role.MARKETER, "POST", f"{base}/publish")
    api.as_role(Role.MARKETER, "POST", f"{base}/launch")

    response = api.as_role(Role.MARKETER, "POST", f"{base}/stop", {"mode": "drain"})

    assert response.json() == {"id": journey_id, "status": "draining"}


def test_the_journey_list_is_open_to_every_role(api: Api) -> None:
    create(api, waiting_map())

    for role in Role:
        response = api.as_role(role, "GET", "/api/journeys")
        assert response.status_code == 200
        assert [j["name"] for j in response.json()] == ["Welcome"]


def test_the_openapi_document_is_served(api: Api) -> None:
    response = api.client.get("/api/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/v1/track", "/v1/identify", "/v1/page", "/v1/batch", "/api/journeys"} <= set(paths)
    assert "/api/journeys/{journey_id}/launch" in paths
