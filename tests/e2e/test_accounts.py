"""Accounts in the browser: the first run, signing in and out, the session cookie, lock-out, what each role is
offered, keys."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from sqlalchemy import func
from sqlmodel import select

from engine.accounts import MAX_FAILURES, AccessDeniedError, create_user, sign_in, verify_write_key
from engine.journeys import archive_journey, create_journey
from engine.map.starters import load_template
from engine.store import Role, SignInAttempt, email_hash, session_scope
from journey_builder import routes
from journey_builder.auth import SESSION_COOKIE
from tests.e2e.conftest import PASSWORD, email_of

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
REFUSED = "Email or password is wrong, or too many attempts: try again later."


def sign_in_on_the_page(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def nav(page: Page, label: str) -> Locator:
    return page.locator("header").get_by_role("link", name=label, exact=True)


def test_the_first_run_creates_the_first_admin(
    nobody_has_an_account: None, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page = new_context().new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/first-run$"), timeout=TIMEOUT_MS)
    page.get_by_label("Name").fill("Ada Admin")
    page.get_by_label("Email").fill("first.admin@e2e.example.com")
    page.get_by_label("Password (at least").fill("a first-run password")
    page.get_by_label("Password again").fill("a first-run password")
    page.screenshot(path=str(artifacts / "accounts_first_run.png"), full_page=True)
    page.get_by_role("button", name="Create admin and sign in").click()

    expect(page.get_by_role("heading", name="Journeys")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("signed-in-name")).to_have_text("Ada Admin")
    expect(page.get_by_test_id("signed-in-role")).to_have_text("admin")
    page.goto(routes.FIRST_RUN)
    expect(page).to_have_url(re.compile(r"/$"), timeout=TIMEOUT_MS)


def test_the_first_run_is_closed_once_someone_has_an_account(new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto(routes.FIRST_RUN)
    expect(page).to_have_url(re.compile(r"/sign-in$"), timeout=TIMEOUT_MS)


def test_a_wrong_password_is_refused_with_the_reason(
    new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page = new_context().new_page()
    page.goto(routes.SIGN_IN)
    sign_in_on_the_page(page, email_of(Role.DESIGNER), "not the password")

    expect(page.get_by_role("alert")).to_have_text(REFUSED, timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.screenshot(path=str(artifacts / "accounts_wrong_password.png"), full_page=True)


LOCKED = "locked@e2e.example.com"


def failed_sign_ins(email: str) -> int:
    with session_scope() as session:
        return session.exec(
            select(func.count()).select_from(SignInAttempt).where(SignInAttempt.email_hash == email_hash(email))
        ).one()


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.1)


def test_five_failures_lock_this_browser_out_with_the_same_answer(
    e2e_database: str, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    with session_scope() as session:
        create_user(session=session, email=LOCKED, password=PASSWORD, role=Role.DESIGNER, actor="e2e")
    page = new_context().new_page()
    page.goto(routes.SIGN_IN)
    alert = page.get_by_role("alert")
    for attempt in range(1, MAX_FAILURES + 1):
        sign_in_on_the_page(page, LOCKED, f"wrong guess {attempt}")
        # The message reads the same each time; the count in the database tells this attempt was judged.
        wait_for(lambda attempt=attempt: failed_sign_ins(LOCKED) == attempt)
        expect(alert).to_have_text(REFUSED, timeout=TIMEOUT_MS)

    page.screenshot(path=str(artifacts / "accounts_locked_out.png"), full_page=True)

    # Even the right password is refused now, in the same words; a fresh page shows no earlier message.
    again = page.context.new_page()
    again.goto(routes.SIGN_IN)
    sign_in_on_the_page(again, LOCKED, PASSWORD)
    expect(again.get_by_role("alert")).to_have_text(REFUSED, timeout=TIMEOUT_MS)
    expect(again).to_have_url(re.compile(r"/sign-in$"))
    # The lock is this client's, not the account's: its owner signing in from elsewhere is let in.
    with session_scope() as session:
        assert sign_in(session=session, email=LOCKED, password=PASSWORD, client="203.0.113.5")[0].email == LOCKED


def test_signing_in_sets_a_session_cookie_the_page_cannot_read(
    new_context: Callable[..., BrowserContext], backend_url: str
) -> None:
    page = new_context().new_page()
    page.goto(routes.sign_in(routes.DASHBOARD))
    sign_in_on_the_page(page, email_of(Role.EXECUTIVE), PASSWORD)
    expect(page).to_have_url(re.compile(re.escape(routes.DASHBOARD) + "$"), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("signed-in-role")).to_have_text("executive", timeout=TIMEOUT_MS)

    [cookie] = [c for c in page.context.cookies(backend_url) if c["name"] == SESSION_COOKIE]
    assert cookie["value"].startswith("js_")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"], cookie["path"]) == (True, "Lax", False, "/")
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    assert cookie["value"] not in page.content()


@pytest.fixture
def journey_id(e2e_database: str) -> Iterator[int]:
    doc = load_template("cart_abandonment").model_copy(update={"name": "Roles check"})
    with session_scope() as session:
        journey_id: int = create_journey(session=session, doc=doc, created_by="e2e").id
    yield journey_id
    # Other browser tests count the journeys in the shared database, so each test puts its journey away: archived,
    # not deleted, since SQLite would hand a deleted journey's id to the next one made.
    with session_scope() as session:
        archive_journey(session=session, journey_id=journey_id, actor="e2e")


LAUNCH_ACTIONS = ("Publish draft", "Launch", "Pause", "Resume", "Stop now")


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_signs_in_and_is_offered_only_its_actions(
    role: Role, journey_id: int, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page = new_context().new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    launch = routes.journey_launch(journey_id)
    page.goto(launch)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="), timeout=TIMEOUT_MS)
    sign_in_on_the_page(page, email_of(role), PASSWORD)

    # Back where it was headed, as this role.
    expect(page.get_by_role("heading", name="Roles check")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(re.escape(launch) + "$"))
    expect(page.get_by_test_id("signed-in-role")).to_have_text(role.value)
    runs_journeys = role in (Role.MARKETER, Role.ADMIN)
    for action in LAUNCH_ACTIONS:
        expect(page.get_by_role("button", name=action, exact=True)).to_have_count(1 if runs_journeys else 0)
    expect(page.get_by_role("heading", name="Send a test")).to_have_count(1 if runs_journeys else 0)
    expect(page.get_by_test_id("view-only-note")).to_have_count(0 if runs_journeys else 1)
    expect(nav(page, "Customers")).to_have_count(1 if runs_journeys else 0)
    expect(nav(page, "Admin")).to_have_count(1 if role is Role.ADMIN else 0)
    expect(nav(page, "Tasks")).to_have_count(1 if role in (Role.AGENT, Role.MARKETER, Role.ADMIN) else 0)
    page.screenshot(path=str(artifacts / f"accounts_{role.value}_launch.png"), full_page=True)

    page.goto(routes.journey_editor(journey_id))
    expect(page.locator(".react-flow__node-card").first).to_be_visible(timeout=TIMEOUT_MS)
    draws = role in (Role.DESIGNER, Role.ADMIN)
    expect(page.locator(".jc-palette")).to_have_count(1 if draws else 0)
    expect(page.get_by_role("button", name="Undo")).to_have_count(1 if draws else 0)
    expect(page.locator("#jc-view-only")).to_have_count(0 if draws else 1)
    expect(page.locator("#jc-view-only-note")).to_have_count(0 if draws else 1)
    # Executives see a map as its figures: the overlay is on when they open it.
    expect(page.get_by_test_id("kpi-legend")).to_have_count(1 if role is Role.EXECUTIVE else 0, timeout=TIMEOUT_MS)
    expect(page.locator("#jc-publish")).to_have_count(1 if runs_journeys else 0)
    page.locator('.react-flow__node-card[data-id="wait_1h"]').click()
    title = page.locator("#jc-inspector input").first
    expect(title).to_be_visible(timeout=TIMEOUT_MS)
    if draws:
        expect(title).to_be_enabled()
    else:
        expect(title).to_be_disabled()
    page.screenshot(path=str(artifacts / f"accounts_{role.value}_map.png"), full_page=True)

    page.goto(routes.ADMIN_USERS)
    if role is Role.ADMIN:
        expect(page.get_by_test_id("user-row").first).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("user-row").filter(has_text=email_of(Role.EXECUTIVE))).to_have_count(1)
        page.screenshot(path=str(artifacts / "accounts_admin_users.png"), full_page=True)
    else:
        # The page refuses on the server, says why, and sends the browser to the journeys.
        expect(page.get_by_text("may not manage users")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page).to_have_url(re.compile(r"/$"))


def test_an_admin_creates_a_write_key_sees_it_once_and_revokes_it(page: Page, artifacts: Path) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(routes.ADMIN_KEYS)
    page.get_by_placeholder("e.g. Web shop").fill("E2E shop")
    page.get_by_role("button", name="Create write key").click()

    shown = page.get_by_test_id("new-secret")
    expect(shown).to_have_text(re.compile(r"^wk_"), timeout=TIMEOUT_MS)
    secret = shown.inner_text()
    with session_scope() as session:
        verify_write_key(session=session, secret=secret)
    row = page.get_by_test_id("write-key-row").filter(has_text="E2E shop")
    expect(row).to_contain_text(secret[:8] + "…")
    page.screenshot(path=str(artifacts / "accounts_write_key_created.png"), full_page=True)

    page.reload()
    expect(row).to_contain_text("active", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    expect(page.get_by_text(secret)).to_have_count(0)

    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked", timeout=TIMEOUT_MS)
    with session_scope() as session, pytest.raises(AccessDeniedError, match="revoked"):
        verify_write_key(session=session, secret=secret)
    page.screenshot(path=str(artifacts / "accounts_write_key_revoked.png"), full_page=True)

    page.goto(routes.ADMIN_AUDIT)
    audit_rows = page.get_by_test_id("audit-row")
    expect(audit_rows.filter(has_text="key.revoke").filter(has_text=email_of(Role.ADMIN))).to_have_count(
        1, timeout=TIMEOUT_MS
    )
    page.get_by_placeholder("email or token:name").fill("nobody@example.com")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Nothing in the log matches.")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Clear").click()
    expect(audit_rows.filter(has_text="key.create").first).to_be_visible(timeout=TIMEOUT_MS)
    page.screenshot(path=str(artifacts / "accounts_audit_log.png"), full_page=True)


def test_after_signing_out_a_protected_page_sends_to_sign_in(signed_in_as: Callable[[Role], Page]) -> None:
    page = signed_in_as(Role.MARKETER)
    page.goto(routes.CUSTOMERS)
    expect(page.get_by_role("heading", name="Customer look-up")).to_be_visible(timeout=TIMEOUT_MS)

    page.locator("header").get_by_role("link", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"), timeout=TIMEOUT_MS)
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE and c["value"]]

    page.goto(routes.CUSTOMERS)
    expect(page).to_have_url(re.compile(re.escape(routes.sign_in(routes.CUSTOMERS)) + "$"), timeout=TIMEOUT_MS)
