"""The /api routes and the backend's exposure as an attacker and a careless client meet them: ids past what the
databases hold, signatures that are not ASCII, a journey list that grows without end, errors that would leak
internals, bodies sent before any token, and a backend reachable from everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from starlette.middleware.cors import CORSMiddleware

from engine.accounts import create_api_token
from engine.api import MAX_API_BODY_BYTES, create_api
from engine.content import unsubscribe_url
from engine.store import Profile, Role, session_scope
from tests.engine_factories import event_trigger, journey_map, node
from tests.integration.journey_harness import api_server
from tests.security.serving import served

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Api:
    database_url: str
    client: httpx.Client
    tokens: dict[Role, str]

    def call(self, method: str, path: str, body: Any = None, *, role: Role = Role.ADMIN, **options: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}", **options.pop("headers", {})}
        return self.client.request(method, path, json=body, headers=headers, **options)

    def create(self, name: str = "Welcome", description: str = "") -> int:
        return self.create_raw(waiting_map(name, description))

    def create_raw(self, doc: dict[str, Any]) -> int:
        response = self.call("POST", "/api/journeys", doc)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def waiting_map(name: str = "Welcome", description: str = "") -> dict[str, Any]:
    doc = journey_map(
        [event_trigger("signed_up"), node("hold", "wait", duration="P1D")], [("entry", "hold")], name=name
    )
    return {**doc.model_dump(mode="json"), "description": description}


def _api(database_url: str) -> Iterator[Api]:
    with session_scope(database_url) as session:
        tokens = {
            role: create_api_token(session=session, name=f"{role.value}-{uuid.uuid4().hex[:6]}", role=role).secret
            for role in Role
        }
    with served(create_api(database_url)) as client:
        yield Api(database_url, client, tokens)


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    yield from _api(db_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def both(request: pytest.FixtureRequest) -> Iterator[Api]:
    yield from _api(request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url"))


def test_publishing_a_draft_that_does_not_compile_answers_the_documented_422(api: Api) -> None:
    # Found by schemathesis: the compiler's 422 carried a text ``detail`` where the document promised FastAPI's list.
    broken = journey_map([node("hold", "wait", duration="P1D")], [], name="No trigger")
    journey_id = api.create_raw(broken.model_dump(mode="json"))

    response = api.call("POST", f"/api/journeys/{journey_id}/publish")

    assert response.status_code == 422, response.text
    document = api.client.get("/api/openapi.json").json()
    documented = document["paths"]["/api/journeys/{journey_id}/publish"]["post"]["responses"]["422"]
    schema = {**documented["content"]["application/json"]["schema"], "components": document["components"]}
    jsonschema_rs.validate(schema, response.json())
    assert response.json()["problems"]


# --- ids past what the databases hold -------------------------------------------------------------------------

ROUTES = [
    ("GET", "/api/journeys/{id}"),
    ("GET", "/api/journeys/{id}/runs"),
    ("POST", "/api/journeys/{id}/publish"),
    ("POST", "/api/journeys/{id}/launch"),
    ("POST", "/api/journeys/{id}/pause"),
    ("POST", "/api/journeys/{id}/resume"),
    ("POST", "/api/journeys/{id}/stop"),
]


@pytest.mark.parametrize("journey_id", [2**31, 2**63, 0])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_journey_id_past_the_databases_integers_answers_422(
    both: Api, method: str, path: str, journey_id: int
) -> None:
    response = both.call(method, path.format(id=journey_id))

    assert response.status_code == 422, response.text
    assert "journey_id" in json.dumps(response.json()["detail"])


@pytest.mark.parametrize("journey_id", [2**31, 2**63])
def test_a_draft_saved_under_an_id_past_the_databases_integers_answers_422(both: Api, journey_id: int) -> None:
    response = both.call(
        "PUT", f"/api/journeys/{journey_id}/draft", {"map": waiting_map(), "expected_revision": 1}, role=Role.DESIGNER
    )

    assert response.status_code == 422, response.text


@pytest.mark.parametrize("revision", [2**31, 2**63, 2**64])
def test_an_expected_revision_past_the_databases_integers_answers_422(both: Api, revision: int) -> None:
    journey_id = both.create(f"Revision {uuid.uuid4().hex[:6]}")

    response = both.call(
        "PUT",
        f"/api/journeys/{journey_id}/draft",
        {"map": waiting_map(), "expected_revision": revision},
        role=Role.DESIGNER,
    )

    assert response.status_code == 422, response.text
    assert "expected_revision" in json.dumps(response.json()["detail"])


@pytest.mark.parametrize("field", ["name", "description", "title"])
def test_a_nul_character_in_a_map_is_refused_422_on_both_databases(both: Api, field: str) -> None:
    doc = waiting_map(f"Nul {uuid.uuid4().hex[:6]}")
    if field == "title":
        doc["nodes"][1]["title"] = "Wait\u0000"
    else:
        doc[field] = f"{doc[field]}\u0000"
    journey_id = both.create(f"Nul target {uuid.uuid4().hex[:6]}")

    created = both.call("POST", "/api/journeys", doc, role=Role.DESIGNER)
    saved = both.call(
        "PUT", f"/api/journeys/{journey_id}/draft", {"map": doc, "expected_revision": 1}, role=Role.DESIGNER
    )

    assert (created.status_code, saved.status_code) == (422, 422), created.text
    assert "NUL" in created.text


# --- unsubscribe links ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["é" * 32, "\u6f22\u5b57", "🙂"])
def test_an_unsubscribe_link_with_a_signature_that_is_not_ascii_is_refused_400(both: Api, signature: str) -> None:
    response = both.client.get("/v1/unsubscribe", params={"p": 1, "c": "email", "s": signature})

    assert response.status_code == 400
    assert response.json()["detail"] == "this unsubscribe link is not valid"


@pytest.mark.parametrize("profile_id", [2**31, 2**63, 2**64, -1])
def test_an_unsubscribe_link_for_a_profile_id_past_the_databases_integers_is_refused(
    both: Api, profile_id: int
) -> None:
    response = both.client.get("/v1/unsubscribe", params={"p": profile_id, "c": "email", "s": "0" * 32})

    assert response.status_code == 422, response.text


def test_a_genuine_unsubscribe_link_still_works(api: Api) -> None:
    with session_scope(api.database_url) as session:
        profile = Profile(user_id="u1")
        session.add(profile)
        session.flush()
        assert profile.id is not None
        url = unsubscribe_url(profile.id, "email")

    response = api.client.get("/v1/" + url.split("/v1/", 1)[1])

    assert response.status_code == 200
    with session_scope(api.database_url) as session:
        assert session.get(Profile, profile.id).consent == {"email": False}  # type: ignore[union-attr]


# --- the journey list ---------------------------------------------------------------------------------------------


def test_the_journey_list_is_paged(api: Api) -> None:
    ids = [api.create(f"Journey {n}") for n in range(5)]

    first = api.call("GET", "/api/journeys", params={"limit": 2})
    last = api.call("GET", "/api/journeys", params={"limit": 2, "offset": 4})

    assert [j["id"] for j in first.json()] == ids[::-1][:2]
    assert [j["id"] for j in last.json()] == ids[:1]
    assert first.headers["x-total-count"] == "5"
    assert 'rel="next"' in first.headers["link"]
    assert "offset=2" in first.headers["link"]
    assert "link" not in last.headers


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 10_000}, {"offset": -1}, {"offset": 2**63}])
def test_the_journey_list_refuses_pages_out_of_bounds(api: Api, params: dict[str, int]) -> None:
    response = api.call("GET", "/api/journeys", params=params)

    assert response.status_code == 422


def test_the_journey_list_leaves_heavy_fields_out(api: Api) -> None:
    api.create("Long", description="word " * 600)

    response = api.call("GET", "/api/journeys")

    (journey,) = response.json()
    assert len(response.content) < 1_000
    assert "map" not in journey
    assert "draft_map" not in journey
    assert journey["description"].startswith("word word")
    assert journey["description"].endswith("…")


def test_the_journey_list_has_a_default_page(api: Api) -> None:
    for n in range(3):
        api.create(f"Journey {n}")

    response = api.call("GET", "/api/journeys")

    assert len(response.json()) == 3
    assert response.headers["x-total-count"] == "3"


# --- failures are clear, never internals ------------------------------------------------------------------------


def test_an_unexpected_error_answers_a_generic_500_without_its_internals(db_url: str) -> None:
    app = create_api(db_url)

    @app.get("/api/explode")
    def explode() -> None:
        raise RuntimeError("SELECT secret FROM api_token WHERE 1=1")

    with served(app) as client:
        response = client.get("/api/explode")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "SELECT" not in response.text
    assert "error" in response.json()["detail"]


def test_a_validation_error_does_not_echo_the_body(api: Api) -> None:
    secret = "s3cret-" + "x" * 100
    response = api.call("PUT", "/api/journeys/1/draft", {"map": waiting_map(), "expected_revision": secret})

    assert response.status_code == 422
    assert secret not in response.text
    assert "expected_revision" in response.text


def test_an_api_body_without_a_valid_token_is_refused_before_it_is_read(api: Api) -> None:
    # Not JSON and over the limit: a server that read it before the token would answer 422 or 413.
    body = b"{" + b"x" * (MAX_API_BODY_BYTES + 10)

    missing = api.client.post("/api/journeys", content=body, headers={"Content-Type": "application/json"})
    unknown = api.client.post(
        "/api/journeys",
        content=body,
        headers={"Authorization": "Bearer jb_unknown", "Content-Type": "application/json"},
    )

    assert missing.status_code == 401
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == "unknown or revoked API token"


def test_an_api_body_over_the_limit_is_refused_413(api: Api) -> None:
    doc = waiting_map(description="x" * (MAX_API_BODY_BYTES + 10))

    response = api.call("POST", "/api/journeys", doc, role=Role.DESIGNER)

    assert response.status_code == 413
    assert str(MAX_API_BODY_BYTES) in response.json()["detail"]


def test_a_body_nested_a_thousand_deep_answers_a_clear_error(api: Api) -> None:
    body = b"[" * 1000 + b"]" * 1000

    response = api.call("POST", "/api/journeys", role=Role.DESIGNER, content=body)

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


# --- the backend's exposure --------------------------------------------------------------------------------------

READ_CONFIG = (
    "import json, rxconfig; print(json.dumps([rxconfig.config.backend_host, rxconfig.config.cors_allowed_origins]))"
)


def reflex_config(**env: str) -> tuple[str, list[str]]:
    """The backend host and the allowed origins rxconfig.py gives under ``env`` (no other REFLEX_ or JOURNEY_ set)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REFLEX_", "JOURNEY_"))}
    output = subprocess.run(
        [sys.executable, "-c", READ_CONFIG], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    ).stdout
    host, origins = json.loads(output.strip().splitlines()[-1])
    return host, list(origins)


def test_the_backend_listens_on_loopback_and_answers_only_the_apps_own_origin_by_default() -> None:
    host, origins = reflex_config()

    assert host == "127.0.0.1"
    assert "*" not in origins
    assert set(origins) == {
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    }


def test_the_backend_host_and_further_origins_come_from_the_environment() -> None:
    host, origins = reflex_config(
        JOURNEY_BACKEND_HOST="0.0.0.0",
        JOURNEY_CORS_ORIGINS="https://journeys.example.com, https://admin.example.com/",
        REFLEX_FRONTEND_PORT="3100",
    )

    assert host == "0.0.0.0"
    assert "http://localhost:3100" in origins
    assert {"https://journeys.example.com", "https://admin.example.com"} <= set(origins)
    assert "http://localhost:3000" not in origins


def test_cors_answers_the_apps_origin_and_not_another(db_url: str) -> None:
    _, origins = reflex_config()
    app = create_api(db_url)
    # What Reflex does with the config when it mounts the API (reflex.app.App._add_cors).
    app.add_middleware(
        CORSMiddleware, allow_credentials=True, allow_methods=["*"], allow_headers=["*"], allow_origins=origins
    )
    with served(app) as client:
        own = client.get("/api/openapi.json", headers={"Origin": "http://localhost:3000"})
        other = client.get("/api/openapi.json", headers={"Origin": "https://evil.example"})

    assert own.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-origin" not in other.headers


def test_a_loopback_backend_is_reached_by_localhost_as_scripts_run_sh_calls_it(db_url: str) -> None:
    with api_server(db_url) as url:
        port = url.rsplit(":", 1)[1]
        response = httpx.get(f"http://localhost:{port}/api/openapi.json")

    assert response.status_code == 200
