"""A real browser (Debian's Chromium through Playwright) against the offline stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from devstack.settings import ROOT, StackSettings
from tests.stack import running_stack

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "Chromium is missing: run `make chromium` "
            "(Debian: apt-get install chromium)"
        )
    return path


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StackSettings, dict[str, str]]]:
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as running:
        yield running


@pytest.fixture(scope="session")
def settings(stack: tuple[StackSettings, dict[str, str]]) -> StackSettings:
    return stack[0]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 390, "height": 780})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> object:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, state: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}--{state}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
