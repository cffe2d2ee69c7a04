"""Fixtures of the browser tests: the API with its console on a random port, and Debian's headless Chromium driven by Playwright.

Playwright's own browser download is not used (nor reachable): the tests launch the system
browser, ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it), and skip
with that reason when it is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest
from api_server import ROOT, ApiServer, running_api

CHROMIUM = os.environ.get("STEPGRAPH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TOKENS = {
    "tok-dev-1c2d9e3f": "dev@example.com",
    "tok-finance-3f9c2a71": "finance@example.com",
    "tok-cfo-8d41b0e2": "cfo@example.com",
    "tok-mallory-51c7e9aa": "mallory@example.com",
}
DEV, FINANCE, CFO, MALLORY = TOKENS
IMAGES = ROOT / "docs" / "images"

pytestmark = pytest.mark.browser


def _chromium_missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("console-project"), TOKENS) as server:
        server.default_authorization = f"Bearer {DEV}"
        yield server


@pytest.fixture(scope="module")
def browser():
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def signed_in(browser, api) -> Iterator[Callable[..., object]]:
    """``signed_in(token, path="#/workflows", viewport=(1280, 800)) -> page``: a fresh browser context, signed in with the form."""
    contexts = []

    def open_page(token: str, path: str = "#/workflows", viewport: tuple[int, int] = (1280, 800)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{api.url}/{path}")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(f"Signed in as {TOKENS[token]}").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
