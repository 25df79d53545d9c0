"""Playwright against Debian's Chromium and pytest-django's live server.

Screenshots go to test-artifacts/ (git-ignored) at the repository root. axe-core comes from the
npm registry (tests/browser/package.json, `make browser` installs it) and is injected into every
page as an init script, which the Content-Security-Policy does not apply to.
"""

from pathlib import Path

import pytest
import requests

from waitpoints.environments.services import api_key_create, environment_get_or_create

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (make browser)")
    from playwright.sync_api import expect, sync_playwright

    # Generous waits: CI machines are small and shared; a slow pass still proves the behaviour.
    expect.set_options(timeout=15_000)

    # Playwright's sync API keeps an event loop on this thread; Django's ORM would refuse to
    # run next to it. Allowed only while this module's browser is open.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def new_page(browser, **options):
    """A page in a context of its own, with axe-core loaded and console errors collected in
    `page.console_errors`."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make browser`")
    context = browser.new_context(**({"viewport": {"width": 1360, "height": 900}} | options))
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console_errors = []
    page.on(
        "console",
        lambda message: (
            page.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return page


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def api(live_server):
    """A requests session on the live server's token API, with a key of environment "prod"."""
    environment = environment_get_or_create(slug="prod")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key_create(environment=environment).secret}"
    session.base = f"{live_server.url}/api/v1/waitpoints/tokens"
    return session
