"""The real app on a migrated, seeded temporary SQLite database, driven by Chromium through Playwright.

Every page but signing in needs a signed-in user, so the ``page`` fixture is signed in as an admin: its
browser context holds the session cookie of a session opened through ``engine.accounts.users``, as the
backend's ``/auth/session`` route would have set it after the admin signed in on the sign-in page (on the
backend's host, HttpOnly, SameSite=Lax). ``signed_in_as(role)`` opens a page in a fresh context for another role.

The cookie belongs to the backend's host and is SameSite, so the pages are opened on that host too
(``base_url``): a page of another site could not send it over its websocket.

Email goes to a real SMTP server on 127.0.0.1 (``smtp_server``), started before the app so that the engine inside
the app sends through it: a test reads what arrived there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import reflex as rx
from playwright.sync_api import BrowserContext, Page
from reflex.testing import AppHarness
from sqlmodel import col, select, update

from engine.accounts import create_user, sign_in
from engine.journeys import seed_starters
from engine.store import Role, User, get_engine, session_scope, upgrade_database, utc_now
from journey_builder.auth import SESSION_COOKIE
from tests.integration.journey_harness import free_port
from tests.integration.servers import ReceivedMail, SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e password, long enough"


def email_of(role: Role) -> str:
    return f"{role.value}@e2e.example.com"


ARTIFACTS = ROOT / "artifacts"
# Without the background-networking flags Chromium tries to reach outside hosts many times a second.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def e2e_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite file holding the starter journeys; DATABASE_URL points the app at it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'journeys.db'}"
    upgrade_database(url)
    with session_scope(url) as session:
        seed_starters(session=session)
        for role in Role:
            create_user(
                session=session,
                email=email_of(role),
                name=f"E2E {role.value}",
                password=PASSWORD,
                role=role,
                actor="e2e",
            )
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_engine(url).dispose()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpTestServer]:
    """The SMTP server the app's engine sends email through; ``messages`` holds what it received."""
    with SmtpTestServer() as server:
        yield server


@pytest.fixture(scope="session")
def customer_site_port() -> int:
    """The port of 127.0.0.1 on which a test serves a customer's own web page (the in-app snippet's host): the
    app's inbox API allows that origin, and only that one, as JOURNEY_IN_APP_ORIGINS would in production."""
    return free_port()


@pytest.fixture(scope="session")
def app(e2e_database: str, smtp_server: SmtpTestServer, customer_site_port: int) -> Iterator[AppHarness]:
    # The harness starts the frontend on a port chosen when it starts, after the backend has read which
    # origins it answers (rxconfig.py allows only the app's own): Reflex's own override lets any origin in.
    settings = {
        "REFLEX_CORS_ALLOWED_ORIGINS": "*",
        "JOURNEY_SMTP_HOST": smtp_server.host,
        "JOURNEY_SMTP_PORT": str(smtp_server.port),
        "JOURNEY_IN_APP_ORIGINS": f"http://127.0.0.1:{customer_site_port}",
    }
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        # app_name is explicit: AppHarness would otherwise take it from the folder's name, which a clone may change.
        with AppHarness.create(root=ROOT, app_name="journey_builder") as harness:
            yield harness
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def backend_url(app: AppHarness) -> str:
    """Where the frontend's websocket and the session cookie's routes are (the harness picks the port)."""
    return rx.config.get_config().api_url.rstrip("/")


@pytest.fixture(scope="session")
def base_url(app: AppHarness, backend_url: str) -> str:
    """The app's address, on the backend's host: pytest-playwright resolves ``page.goto("/dashboard")`` against it.

    The harness names the frontend ``localhost`` and the backend ``127.0.0.1``, two sites as far as SameSite
    cookies go; the frontend answers on both. Defining this fixture also replaces pytest-playwright's fallback
    ``base_url``, a session fixture written as an instance method, which pytest 9.2 deprecates with a warning
    (an error under ``-W error``).
    """
    assert app.frontend_url is not None
    frontend = urlsplit(app.frontend_url)
    host = urlsplit(backend_url).hostname
    return frontend._replace(netloc=f"{host}:{frontend.port}").geturl().rstrip("/")


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots for people to look at (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_session(role: Role) -> str:
    """A new session of the role's e2e user, as signing in opens one: its secret is the cookie's value."""
    with session_scope() as session:
        return sign_in(session=session, email=email_of(role), password=PASSWORD)[1]


def hold_session(context: BrowserContext, backend_url: str, secret: str) -> None:
    """The session cookie as the backend's /auth/session route sets it."""
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": secret, "url": backend_url, "httpOnly": True, "sameSite": "Lax"}]
    )


@pytest.fixture(scope="session")
def admin_session(e2e_database: str) -> str:
    return open_session(Role.ADMIN)


@pytest.fixture
def page(context: BrowserContext, backend_url: str, admin_session: str) -> Page:
    """pytest-playwright's page, signed in as the e2e admin."""
    hold_session(context, backend_url, admin_session)
    return context.new_page()


@pytest.fixture
def signed_in_as(new_context: Callable[..., BrowserContext], backend_url: str) -> Callable[[Role], Page]:
    """A page in a context of its own, holding a new session of the role's user (closed after the test)."""

    def open_as(role: Role) -> Page:
        context = new_context()
        hold_session(context, backend_url, open_session(role))
        return context.new_page()

    return open_as


def mail_to(server: SmtpTestServer, address: str, *, after: int = 0, timeout: float = 30) -> ReceivedMail:
    """The first mail to ``address`` among those the server received after its first ``after``: the server is
    shared by every browser test, and a marketer's own address receives the tests of several of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in server.messages[after:]:
            if address in mail.rcpt_tos:
                return mail
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address} arrived; the server holds {len(server.messages)} message(s)")


@pytest.fixture
def nobody_has_an_account(e2e_database: str) -> Iterator[None]:
    """The first run is open only while nobody has an account: the e2e users step aside for this test.

    They are marked removed straight in the database and brought back afterwards with their sessions intact,
    which removing them through the accounts service (it ends their sessions) would not allow.
    """
    with session_scope() as session:
        present = list(session.exec(select(User.id).where(col(User.removed_at).is_(None))))
        session.execute(update(User).where(col(User.id).in_(present)).values(removed_at=utc_now()))
    yield
    with session_scope() as session:
        session.execute(update(User).where(col(User.id).in_(present)).values(removed_at=None))
