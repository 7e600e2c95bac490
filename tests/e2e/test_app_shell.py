"""The app shell's own links lead somewhere real."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000


def test_the_api_link_opens_the_api_documentation(page: Page) -> None:
    page.goto("/")
    link = page.get_by_role("link", name="API", exact=True)
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    href = link.get_attribute("href")
    assert href is not None
    answer = page.request.get(href)
    assert answer.status == 200, f"{href} answered {answer.status}"
    assert "Journey Builder API" in answer.text()
