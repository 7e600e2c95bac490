"""Schemathesis against the API's own OpenAPI document: every operation, as each role's bearer token and as
nobody, with bounded examples. No answer may be a server error, and every answer must match the document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from engine.accounts import create_api_token
from engine.api import create_api
from engine.journeys import create_journey, publish_journey
from engine.map.starters import load_template
from engine.store import Role, get_engine, session_scope, upgrade_database

# Enough to reach every parameter's edges on every operation; the whole run stays under a minute or two.
EXAMPLES_PER_OPERATION = 20
NOBODY = "nobody"


@pytest.fixture(scope="module")
def api_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated SQLite database with one published journey and a token per role."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('schemathesis')) / 'journeys.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        journey = create_journey(session=session, doc=load_template("cart_abandonment"))
        assert journey.id is not None
        publish_journey(session=session, journey_id=journey.id)
        tokens = {role.value: create_api_token(session=session, name=role.value, role=role).secret for role in Role}
        session.commit()
    yield url, tokens
    get_engine(url).dispose()


def _schema(database_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/api/openapi.json", create_api(database_url))


# The document does not depend on the database: list its operations at collection, one test each.
OPERATIONS = [result.ok().label for result in _schema("sqlite://").get_all_operations()]


@pytest.fixture(scope="module")
def callers(api_database: tuple[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The headers of each role's token, and none."""
    _, tokens = api_database
    return {NOBODY: {}} | {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


@pytest.mark.parametrize("label", OPERATIONS)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_operation_answers_a_server_error_or_off_its_document(
    label: str, mode: GenerationMode, api_database: tuple[str, dict[str, str]], callers: dict[str, dict[str, str]]
) -> None:
    url, _ = api_database
    operation = next(r.ok() for r in _schema(url).get_all_operations() if r.ok().label == label)

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def every_caller_gets_a_documented_answer(case: schemathesis.Case) -> None:
        for headers in callers.values():
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

    try:
        every_caller_gets_a_documented_answer()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        pytest.skip(f"the document allows any value of every input of {label}: there is no invalid request to make")
