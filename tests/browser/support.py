"""What the browser tests share: tokens created through the real API, logging in as a reviewer."""

from django.contrib.auth.models import User

from tests.helpers import reviewers_group

PASSWORD = "pw-alice-123"


def create_token(api, **body) -> str:
    response = api.post(api.base, json=body, timeout=10)
    response.raise_for_status()
    return response.json()["id"]


def log_in(page, live_server, screenshot=None, username="alice") -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    user.groups.add(reviewers_group())
    page.goto(f"{live_server.url}/dashboard/")
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")
    return user


def more_filters(page):
    """Open the filters beyond the search box (folded so the tokens come first)."""
    if page.locator("details.filter-more[open]").count() == 0:
        page.get_by_text("More filters").click()


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def refreshes(page) -> int:
    """How many live refreshes the page completed (static/js/live.js counts them)."""
    return int(page.locator("#live-state").get_attribute("data-refreshes") or 0)


def wait_past_a_refresh(page) -> None:
    """Wait until one more live refresh has completed (a condition, not a fixed sleep)."""
    seen = refreshes(page)
    page.wait_for_function(
        "seen => Number(document.getElementById('live-state').dataset.refreshes || 0) > seen",
        arg=seen,
        timeout=20_000,
    )
