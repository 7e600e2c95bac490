"""The admin pages' states driven through Reflex's event processor as an admin: the audit log's filters and
pages, accounts created, re-roled and removed, secrets shown once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.accounts import AccessDeniedError, create_user, list_users, sign_in, verify_api_token
from engine.journeys import archive_journey, create_blank_journey
from engine.store import AuditEntry, Role, session_scope
from journey_builder import routes
from journey_builder.pages.admin_audit import PAGE_SIZE, AuditState
from journey_builder.pages.admin_keys import KeysState
from journey_builder.pages.admin_users import UsersState
from tests.integration.reflex_events import Outcome, Tab, browser, run

PASSWORD = "correct horse battery staple"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def admin(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with session_scope() as session:
        create_user(session=session, email="admin@example.com", password=PASSWORD, role=Role.ADMIN, actor="test")
        return sign_in(session=session, email="admin@example.com", password=PASSWORD)[1]


def steps(path: str, secret: str, calls: list[tuple[Any, dict[str, Any]]], state: Any) -> list[dict[str, Any]]:
    """Open ``path``, then send each call; the state's vars after the load and after each call."""

    async def go() -> list[dict[str, Any]]:
        async with browser() as new_tab:
            tab: Tab = new_tab()
            await tab.open(path, secret)
            seen = [await tab.state(state)]
            for handler, payload in calls:
                outcome: Outcome = await tab.send(handler, **payload)
                assert outcome.ran, handler
                assert outcome.error is None, outcome.error
                seen.append({**(await tab.state(state)), "_toasts": outcome.toasts})
            return seen

    return run(go())


def test_the_audit_log_pages_through_and_filters_by_journey_actor_action_and_dates(admin: str) -> None:
    with session_scope() as session:
        for index in range(2 * PAGE_SIZE + 10):
            session.add(
                AuditEntry(
                    at=START + timedelta(hours=index),
                    actor="ann@example.com" if index % 2 else "bob@example.com",
                    action="pause" if index % 3 else "launch",
                    journey_id=7 if index < 100 else None,
                    detail={"n": index},
                )
            )
    handlers = AuditState.event_handlers
    seen = steps(
        routes.ADMIN_AUDIT,
        admin,
        [
            (handlers["next_page"], {}),
            (handlers["next_page"], {}),
            (handlers["previous_page"], {}),
            (handlers["apply"], {"form": {"journey": "7", "actor": "ann@example.com", "action": "launch"}}),
            (handlers["apply"], {"form": {"since": "2026-03-02", "until": "2026-03-02"}}),
            (handlers["clear"], {}),
        ],
        AuditState,
    )
    first, second, third, back, ann, one_day, cleared = seen

    # The admin's own account creation, recorded now, is the newest entry of all.
    assert [len(s["rows"]) for s in (first, second, third, back)] == [PAGE_SIZE, PAGE_SIZE, 11, PAGE_SIZE]
    assert [s["has_next"] for s in (first, second, third)] == [True, True, False]
    assert [row.action for row in first["rows"][:2]] == ["user.create", "pause"]
    assert first["rows"][1].detail == "n: 109"
    assert third["rows"][-1].detail == "n: 0"
    assert back["rows"] == second["rows"]
    assert first["actions"] == ["launch", "pause", "user.create"]
    # Odd indexes below 100 that are multiples of 3: 3, 9, ..., 99.
    assert [row.detail for row in ann["rows"]] == [f"n: {n}" for n in range(99, 0, -6)]
    assert {row.journey for row in ann["rows"]} == {"#7"}
    # 2 March in UTC, the whole day: hours 12 to 35 after noon on the first.
    assert [row.detail for row in one_day["rows"]] == [f"n: {n}" for n in range(35, 11, -1)]
    assert len(cleared["rows"]) == PAGE_SIZE
    assert cleared["form_key"] == one_day["form_key"] + 1


def test_the_audit_logs_journey_filter_lists_archived_journeys_too(admin: str) -> None:
    with session_scope() as session:
        kept = create_blank_journey(session=session, name="Welcome", actor="ann@example.com")
        gone = create_blank_journey(session=session, name="Autumn sale", actor="ann@example.com")
        assert gone.id is not None
        archive_journey(session=session, journey_id=gone.id, actor="ann@example.com")

    [loaded, filtered] = steps(
        routes.ADMIN_AUDIT,
        admin,
        [(AuditState.event_handlers["apply"], {"form": {"journey": str(gone.id)}})],
        AuditState,
    )

    assert [(c.value, c.label) for c in loaded["journeys"]] == [
        ("any", "Any journey"),
        (str(gone.id), "Autumn sale (archived)"),
        (str(kept.id), "Welcome"),
    ]
    assert [row.action for row in filtered["rows"]] == ["journey.archive", "journey.create"]
    assert {row.journey for row in filtered["rows"]} == {"Autumn sale (archived)"}


def test_an_admin_creates_re_roles_and_removes_an_account(admin: str) -> None:
    handlers = UsersState.event_handlers
    form = {"email": "New.Person@Example.com", "name": "New Person", "role": "designer", "password": PASSWORD}
    seen = steps(
        routes.ADMIN_USERS,
        admin,
        [
            (handlers["create_user"], {"form": {**form, "password": "short"}}),
            (handlers["create_user"], {"form": form}),
        ],
        UsersState,
    )
    _, refused, created = seen
    assert refused["error"] == "Password: at least 12 characters."
    assert created["error"] == ""
    assert created["form_key"] == refused["form_key"] + 1
    new = next(row for row in created["rows"] if row.email == "new.person@example.com")
    assert new.role == "designer"
    me = next(row for row in created["rows"] if row.is_me)
    assert me.email == "admin@example.com"

    later = steps(
        routes.ADMIN_USERS,
        admin,
        [
            (handlers["change_role"], {"user_id": new.id, "role": "marketer"}),
            (handlers["change_role"], {"user_id": me.id, "role": "designer"}),
            (handlers["remove_user"], {"user_id": new.id}),
        ],
        UsersState,
    )
    _, re_roled, last_admin, removed = later
    assert next(row.role for row in re_roled["rows"] if row.id == new.id) == "marketer"
    assert ("error", "Role: admin@example.com is the last admin; make someone else an admin first.") in last_admin[
        "_toasts"
    ]
    assert [row.email for row in removed["rows"]] == ["admin@example.com"]
    with session_scope() as session:
        assert [user.email for user in list_users(session=session)] == ["admin@example.com"]


def test_an_api_token_is_shown_once_and_works_until_revoked(admin: str) -> None:
    handlers = KeysState.event_handlers
    (created,) = steps(
        routes.ADMIN_KEYS,
        admin,
        [(handlers["create_api_token"], {"form": {"name": "Deploy", "role": "marketer"}})],
        KeysState,
    )[1:]
    secret = created["new_secret"]
    assert secret.startswith("jb_")
    assert [(row.name, row.role, row.prefix, row.active) for row in created["api_tokens"]] == [
        ("Deploy", "marketer", secret[:8] + "…", True)
    ]
    with session_scope() as session:
        assert verify_api_token(session=session, secret=secret).role == "marketer"

    reopened, revoked = steps(
        routes.ADMIN_KEYS, admin, [(handlers["revoke_api_token"], {"token_id": created["api_tokens"][0].id})], KeysState
    )
    assert reopened["new_secret"] == ""
    assert not revoked["api_tokens"][0].active
    with session_scope() as session, pytest.raises(AccessDeniedError):
        verify_api_token(session=session, secret=secret)
