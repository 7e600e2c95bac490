"""Accounts under attack: what a sign-in tells about an email, who can lock whom out, where the session
secret travels and what the browser may read of it, how long sessions and failed attempts are kept, and
who may read the audit log."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from fastapi import FastAPI
from sqlmodel import Session, select

from engine.accounts import (
    CLIENT_MAX_FAILURES,
    LOCKOUT,
    MAX_FAILURES,
    PERMISSIONS,
    Action,
    SignInError,
    change_password,
    create_user,
    identity_for,
    issue_handoff,
    list_users,
    redeem_handoff,
    sign_in,
    sign_out,
)
from engine.store import (
    ATTEMPTS_KEPT,
    SESSION_IDLE,
    SESSION_MAX,
    Role,
    SignInAttempt,
    User,
    UserSession,
    session_scope,
    upgrade_database,
)
from engine.worker import Engine, EngineSettings
from journey_builder import routes
from journey_builder.auth import (
    SESSION_COOKIE,
    SESSION_ROUTE,
    SIGN_OUT_ROUTE,
    Kind,
    Rule,
    SessionState,
    rule_of,
    session_cookie_api,
)
from journey_builder.pages.admin_audit import AuditState
from journey_builder.pages.sign_in import SignInState
from tests.conftest import scratch_postgres_database
from tests.engine_factories import NOW
from tests.integration.reflex_events import Outcome, browser, run

PASSWORD = "correct horse battery staple"
ATTACKER = "198.51.100.7"
OWNER = "203.0.113.5"


@pytest.fixture
def admin(session: Session) -> str:
    create_user(session=session, email="admin@example.com", password=PASSWORD, role=Role.ADMIN, actor="test")
    session.commit()
    return "admin@example.com"


def refusal(session: Session, email: str, password: str, *, client: str = ATTACKER, at: Any = NOW) -> str:
    with pytest.raises(SignInError) as refused:
        sign_in(session=session, email=email, password=password, client=client, now=at)
    return str(refused.value)


def fail(session: Session, email: str, times: int, *, client: str = ATTACKER, at: Any = NOW) -> None:
    for guess in range(times):
        refusal(session, email, f"wrong guess {guess}", client=client, at=at)


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argon2 hash every password check compares against, in order (the real check still runs)."""
    checked: list[str] = []
    real = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        checked.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    return checked


# --- one answer, one cost: a sign-in tells nothing about which emails have accounts ----------------------


def test_unknown_email_locked_out_client_and_wrong_password_get_the_same_answer(session: Session, admin: str) -> None:
    with pytest.raises(SignInError) as wrong:
        sign_in(session=session, email=admin, password="not the password", now=NOW)
    with pytest.raises(SignInError) as unknown:
        sign_in(session=session, email="nobody@example.com", password="not the password", now=NOW)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInError):
            sign_in(session=session, email=admin, password="still not it", now=NOW)
    with pytest.raises(SignInError) as locked:
        sign_in(session=session, email=admin, password=PASSWORD, now=NOW)

    answers = {str(wrong.value), str(unknown.value), str(locked.value)}
    assert answers == {"email or password is wrong, or too many attempts: try again later"}


def test_each_refusal_costs_one_password_hash_whatever_its_reason(
    session: Session, admin: str, hash_checks: list[str]
) -> None:
    def checks_for(email: str, password: str) -> int:
        before = len(hash_checks)
        with pytest.raises(SignInError):
            sign_in(session=session, email=email, password=password, now=NOW)
        return len(hash_checks) - before

    wrong = checks_for(admin, "not the password")
    unknown = checks_for("nobody@example.com", "not the password")
    for _ in range(MAX_FAILURES):
        checks_for(admin, "still not it")
    locked = checks_for(admin, PASSWORD)

    assert (wrong, unknown, locked) == (1, 1, 1)


# --- lock-out is per client: an attacker locks out only themselves ---------------------------------------


def test_an_attackers_failures_do_not_lock_the_owner_out_from_their_own_client(session: Session, admin: str) -> None:
    fail(session, admin, MAX_FAILURES + 3)

    assert refusal(session, admin, PASSWORD) == "email or password is wrong, or too many attempts: try again later"
    identity, _ = sign_in(session=session, email=admin, password=PASSWORD, client=OWNER, now=NOW)
    assert identity.email == admin


def test_a_client_spraying_many_emails_is_locked_out_of_every_account(
    session: Session, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = PasswordHasher.verify

    def quick_for_sprays(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        # The spray's guesses are refused without argon2's cost, which this test is not about.
        if str(password).startswith("spray"):
            raise VerifyMismatchError
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", quick_for_sprays)
    for victim in range(CLIENT_MAX_FAILURES):
        refusal(session, f"victim{victim}@example.com", "spray guess")

    refusal(session, admin, PASSWORD)
    sign_in(session=session, email=admin, password=PASSWORD, client=OWNER, now=NOW)


def test_the_lock_grows_with_each_failure_after_it(session: Session, admin: str) -> None:
    fail(session, admin, MAX_FAILURES)
    refusal(session, admin, PASSWORD, at=NOW + LOCKOUT - timedelta(seconds=1))

    # The first lock has run out: the right password would pass, but one more wrong guess locks twice as long.
    again = NOW + LOCKOUT
    fail(session, admin, 1, at=again)
    refusal(session, admin, PASSWORD, at=again + 2 * LOCKOUT - timedelta(seconds=1))

    identity, _ = sign_in(session=session, email=admin, password=PASSWORD, client=ATTACKER, now=again + 2 * LOCKOUT)
    assert identity.email == admin


def test_guesses_refused_during_a_lock_do_not_lengthen_it(session: Session, admin: str) -> None:
    fail(session, admin, MAX_FAILURES)
    fail(session, admin, 3, at=NOW + LOCKOUT / 2)

    sign_in(session=session, email=admin, password=PASSWORD, client=ATTACKER, now=NOW + LOCKOUT)


def test_a_success_clears_only_that_clients_failures_for_that_email(session: Session, admin: str) -> None:
    fail(session, admin, MAX_FAILURES - 1)
    fail(session, admin, MAX_FAILURES - 1, client=OWNER)
    sign_in(session=session, email=admin, password=PASSWORD, client=OWNER, now=NOW)

    fail(session, admin, MAX_FAILURES - 1, client=OWNER)
    fail(session, admin, 1)
    refusal(session, admin, PASSWORD)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of the test's own: SQLite, or PostgreSQL (where racing transactions truly overlap)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("db_url")
        return
    with scratch_postgres_database("journey_throttle") as url:
        upgrade_database(url)
        yield url


def test_parallel_guesses_get_no_more_password_checks_than_the_limit(any_url: str, hash_checks: list[str]) -> None:
    db_url = any_url
    with session_scope(db_url) as session:
        create_user(session=session, email="admin@example.com", password=PASSWORD, role=Role.ADMIN, actor="test")
    start = threading.Barrier(3 * MAX_FAILURES)

    def guess(number: int) -> None:
        start.wait()
        with pytest.raises(SignInError), session_scope(db_url) as session:
            sign_in(session=session, email="admin@example.com", password=f"guess {number}", client=ATTACKER, now=NOW)

    threads = [threading.Thread(target=guess, args=(number,)) for number in range(3 * MAX_FAILURES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    with session_scope(db_url) as session:
        real_hash = session.exec(select(User.password_hash)).one()
    assert len(hash_checks) == 3 * MAX_FAILURES
    assert hash_checks.count(real_hash) <= MAX_FAILURES


def test_a_new_password_lifts_every_clients_lock_on_the_account(session: Session, admin: str) -> None:
    fail(session, admin, MAX_FAILURES)
    [user] = list_users(session=session, now=NOW)
    assert user.locked_until == NOW + LOCKOUT

    change_password(session=session, user_id=user.id, password="a brand new password", actor=admin)

    assert list_users(session=session, now=NOW)[0].locked_until is None
    sign_in(session=session, email=admin, password="a brand new password", client=ATTACKER, now=NOW)


def test_failed_attempts_keep_no_email_and_no_password(session: Session, admin: str) -> None:
    fail(session, admin, 2)
    refusal(session, "typed-a-password-here", "x")

    stored = repr(session.exec(select(SignInAttempt)).all())
    assert admin not in stored
    assert "typed-a-password-here" not in stored
    assert "wrong guess" not in stored
    assert ATTACKER in stored


# --- the sign-in page throttles by the client address of the connection ----------------------------------


def sign_in_on_the_page(ip: str, email: str, password: str, then: str = routes.JOURNEYS_LIST) -> tuple[Outcome, Any]:
    async def go() -> tuple[Outcome, Any]:
        async with browser() as new_tab:
            tab = new_tab(ip=ip)
            await tab.open(routes.sign_in(then))
            outcome = await tab.send(SignInState.event_handlers["sign_in"], form={"email": email, "password": password})
            return outcome, await tab.state(SignInState)

    return run(go())


def scripts(outcome: Outcome) -> list[str]:
    return [str(event.payload.get("javascript_code", "")) for event in outcome.events if event.name == "_call_script"]


@pytest.fixture
def app_db(db_url: str, monkeypatch: pytest.MonkeyPatch, admin: str) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def test_the_sign_in_page_locks_out_the_attackers_address_only(app_db: str, admin: str) -> None:
    for guess in range(MAX_FAILURES):
        _, state = sign_in_on_the_page(ATTACKER, admin, f"wrong guess {guess}")
        assert state["error"] == "Email or password is wrong, or too many attempts: try again later."

    _, state = sign_in_on_the_page(ATTACKER, admin, PASSWORD)
    assert state["error"] == "Email or password is wrong, or too many attempts: try again later."
    outcome, state = sign_in_on_the_page(OWNER, admin, PASSWORD)
    assert state["error"] == ""
    assert scripts(outcome)
    with session_scope(app_db) as session:
        assert {row.client for row in session.exec(select(SignInAttempt))} == {ATTACKER}


# --- the session cookie: set by the backend, HttpOnly, never in the page's state -------------------------


def handoff_code(outcome: Outcome) -> str:
    [script] = scripts(outcome)
    [code] = re.findall(r'"(jc_[\w-]+)"', script)
    return code


def test_signing_in_hands_the_browser_a_one_time_code_and_never_the_session_secret(app_db: str, admin: str) -> None:
    outcome, _ = sign_in_on_the_page(OWNER, admin, PASSWORD, then=routes.CUSTOMERS)

    [script] = scripts(outcome)
    assert SESSION_ROUTE in script
    assert routes.CUSTOMERS in script
    sent = repr([*outcome.deltas, *(event.payload for event in outcome.events)])
    assert "js_" not in sent
    assert not any(name == "secret" for name in SessionState.__fields__)
    with session_scope(app_db) as session:
        secret = redeem_handoff(session=session, code=handoff_code(outcome))
        assert secret is not None
        assert identity_for(session=session, secret=secret) is not None
        assert redeem_handoff(session=session, code=handoff_code(outcome)) is None


@pytest.fixture
def cookie_api(db_url: str) -> FastAPI:
    return session_cookie_api(db_url)


def a_code(db_url: str, email: str) -> str:
    with session_scope(db_url) as session:
        _, secret = sign_in(session=session, email=email, password=PASSWORD, client=OWNER)
        return issue_handoff(session=session, secret=secret)


def post(
    api: FastAPI,
    path: str,
    content: str = "",
    *,
    https: bool = False,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    """POST to the cookie routes as a browser at journeys.example.com would (over https when asked)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        base_url = f"{'https' if https else 'http'}://journeys.example.com"
        async with httpx.AsyncClient(transport=transport, base_url=base_url, cookies=cookies) as client:
            return await client.post(path, content=content, headers=headers)

    return asyncio.run(go())


def set_cookie(response: httpx.Response) -> str:
    [header] = response.headers.get_list("set-cookie")
    return str(header)


def test_the_session_route_sets_an_httponly_lax_cookie_secure_over_https(
    db_url: str, admin: str, cookie_api: FastAPI
) -> None:
    plain = post(cookie_api, SESSION_ROUTE, a_code(db_url, admin))
    tls = post(cookie_api, SESSION_ROUTE, a_code(db_url, admin), https=True)

    assert plain.status_code == tls.status_code == 204
    for response in (plain, tls):
        header = set_cookie(response)
        assert header.startswith(f"{SESSION_COOKIE}=js_")
        assert "HttpOnly" in header
        assert "SameSite=lax" in header
        assert "Path=/;" in header or header.endswith("Path=/")
        assert f"Max-Age={int(SESSION_MAX.total_seconds())}" in header
        assert response.headers["cache-control"] == "no-store"
    assert "Secure" not in set_cookie(plain)
    assert "Secure" in set_cookie(tls)
    secret = set_cookie(plain).split(";")[0].removeprefix(f"{SESSION_COOKIE}=")
    with session_scope(db_url) as session:
        identity = identity_for(session=session, secret=secret)
    assert identity is not None
    assert identity.email == admin


def test_the_session_route_refuses_a_used_unknown_or_cross_site_code(
    db_url: str, admin: str, cookie_api: FastAPI
) -> None:
    code = a_code(db_url, admin)
    assert post(cookie_api, SESSION_ROUTE, code).status_code == 204

    used = post(cookie_api, SESSION_ROUTE, code)
    unknown = post(cookie_api, SESSION_ROUTE, "jc_never-issued")
    cross_site = post(cookie_api, SESSION_ROUTE, a_code(db_url, admin), headers={"Sec-Fetch-Site": "cross-site"})

    for response in (used, unknown, cross_site):
        assert response.status_code in (400, 403)
        assert "set-cookie" not in response.headers
    assert used.json()["detail"] == "the sign-in code is unknown, used or expired"
    assert cross_site.json()["detail"] == "refused: the request comes from another site"


def test_a_handoff_code_lasts_a_minute(session: Session, admin: str) -> None:
    _, secret = sign_in(session=session, email=admin, password=PASSWORD, client=OWNER, now=NOW)
    code = issue_handoff(session=session, secret=secret, now=NOW)

    assert redeem_handoff(session=session, code=code, now=NOW + timedelta(seconds=61)) is None


def test_the_session_secret_the_page_saw_dies_when_the_cookie_is_set(session: Session, admin: str) -> None:
    _, secret = sign_in(session=session, email=admin, password=PASSWORD, client=OWNER, now=NOW)
    cookie = redeem_handoff(session=session, code=issue_handoff(session=session, secret=secret, now=NOW), now=NOW)

    assert cookie is not None
    assert identity_for(session=session, secret=secret, now=NOW) is None
    assert identity_for(session=session, secret=cookie, now=NOW) is not None


def test_the_sign_out_route_ends_the_session_and_clears_the_cookie(
    db_url: str, admin: str, cookie_api: FastAPI
) -> None:
    signed_in = post(cookie_api, SESSION_ROUTE, a_code(db_url, admin), https=True)
    secret = signed_in.cookies[SESSION_COOKIE]

    response = post(cookie_api, SIGN_OUT_ROUTE, https=True, cookies={SESSION_COOKIE: secret})

    assert response.status_code == 204
    header = set_cookie(response)
    assert header.startswith(f'{SESSION_COOKIE}="";') or header.startswith(f"{SESSION_COOKIE}=;")
    assert "Max-Age=0" in header
    assert "HttpOnly" in header
    assert "Secure" in header
    with session_scope(db_url) as session:
        assert identity_for(session=session, secret=secret) is None


def test_the_app_mounts_the_cookie_routes() -> None:
    from journey_builder.journey_builder import app

    transformers = app.api_transformer if isinstance(app.api_transformer, list) else [app.api_transformer]
    paths = {getattr(route, "path", None) for api in transformers for route in getattr(api, "routes", [])}

    assert {SESSION_ROUTE, SIGN_OUT_ROUTE} <= paths


def test_the_guard_reads_the_session_from_the_cookie_the_connection_sent(app_db: str, admin: str) -> None:
    with session_scope(app_db) as session:
        _, secret = sign_in(session=session, email=admin, password=PASSWORD, client=OWNER)

    async def go() -> tuple[Outcome, Outcome]:
        async with browser() as new_tab:
            signed_in, signed_out = new_tab(), new_tab()
            await signed_in.open(routes.ADMIN_AUDIT, secret)
            await signed_out.open(routes.ADMIN_AUDIT)
            return (
                await signed_in.send(AuditState.event_handlers["load"]),
                await signed_out.send(AuditState.event_handlers["load"]),
            )

    allowed, refused = run(go())

    assert allowed.ran
    assert not refused.ran
    assert refused.redirects == [routes.sign_in(routes.ADMIN_AUDIT)]
    assert secret not in repr([*allowed.deltas, *(event.payload for event in allowed.events)])


# --- what is kept, and for how long ----------------------------------------------------------------------


def test_the_engine_purges_ended_and_expired_sessions_and_old_attempts(db_url: str) -> None:
    later = NOW + ATTEMPTS_KEPT + timedelta(minutes=1)
    with session_scope(db_url) as session:
        create_user(session=session, email="ann@example.com", password=PASSWORD, role=Role.ADMIN, actor="test")
        secrets = {}
        for name, opened in (
            ("live", later - timedelta(minutes=5)),
            ("idle", later - SESSION_IDLE - timedelta(minutes=1)),
            ("old", later - SESSION_MAX - timedelta(minutes=1)),
            ("ended", later - timedelta(minutes=5)),
        ):
            secrets[name] = sign_in(session=session, email="ann@example.com", password=PASSWORD, now=opened)[1]
        fail(session, "ann@example.com", 1, at=NOW)
        fail(session, "ann@example.com", 1, at=later - timedelta(minutes=1))
        sign_out(session=session, secret=secrets["ended"])
        # The "old" session kept being used, so only its absolute limit ends it.
        for step in range(1, 8 * 7):
            identity_for(session=session, secret=secrets["old"], now=later - SESSION_MAX + step * timedelta(hours=3))

    engine = Engine(EngineSettings(database_url=db_url), senders={}, now=lambda: later)
    engine.purge_once()

    with session_scope(db_url) as session:
        assert len(session.exec(select(UserSession)).all()) == 1
        assert identity_for(session=session, secret=secrets["live"], now=later) is not None
        assert [row.at for row in session.exec(select(SignInAttempt))] == [later - timedelta(minutes=1)]


def test_the_engine_runs_the_purge_on_its_clock(db_url: str) -> None:
    engine = Engine(EngineSettings(database_url=db_url), senders={})
    engine.start()
    try:
        assert engine._scheduler.get_job("purge") is not None
    finally:
        engine.shutdown()


# --- the audit log has its own permission -----------------------------------------------------------------


def test_only_admins_may_view_the_audit_log_and_every_audit_handler_checks_it() -> None:
    assert PERMISSIONS[Action.VIEW_AUDIT] == frozenset({Role.ADMIN})
    for name, handler in AuditState.event_handlers.items():
        if name != "setvar":
            assert rule_of(handler.fn) == Rule(Kind.VIEWING, Action.VIEW_AUDIT), name
