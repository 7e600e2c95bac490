"""The real app on a migrated, seeded temporary SQLite database, driven by Chromium through Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reflex.testing import AppHarness

from engine.journeys import seed_starters
from engine.store.db import get_engine, session_scope, upgrade_database

ROOT = Path(__file__).resolve().parents[2]
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
def app(e2e_database: str) -> Iterator[AppHarness]:
    # app_name is explicit: AppHarness would otherwise take it from the folder's name, which a clone may change.
    with AppHarness.create(root=ROOT, app_name="journey_builder") as harness:
        yield harness


@pytest.fixture(scope="session")
def base_url(app: AppHarness) -> str:
    """The app's address: pytest-playwright resolves ``page.goto("/dashboard")`` against it.

    Defining it here also replaces pytest-playwright's fallback ``base_url``, a session fixture written as an
    instance method, which pytest 9.2 deprecates with a warning (an error under ``-W error``).
    """
    assert app.frontend_url is not None
    return app.frontend_url.rstrip("/")


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots for people to look at (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
