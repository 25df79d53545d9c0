"""In a real browser: the detail page's callback URL only for reviewers, and the readable
context with its raw JSON one click away. Screenshots land in test-artifacts/."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.helpers import reviewers_group
from waitpoints.environments.services import environment_get_or_create
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.create import token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_as(page, live_server, username: str, *, reviewer: bool) -> None:
    user = User.objects.create_user(username, password=f"pw-{username}-123")
    if reviewer:
        user.groups.add(reviewers_group())
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")


@pytest.fixture
def refund(live_server):
    return token_create(
        environment=environment_get_or_create(slug="prod"),
        timeout="1h",
        title="Refund order #5010",
        context={
            "refund_amount": 1299.0,
            "reason": "Parcel **never** arrived",
            "order_url": "https://shop.example.com/orders/5010",
        },
        display={"refund_amount": "money:EUR", "reason": "markdown"},
    ).waitpoint


@pytest.mark.parametrize(("reviewer", "shown"), [(True, 1), (False, 0)], ids=["reviewer", "viewer"])
def test_callback_url_only_for_users_who_may_decide(page, live_server, refund, reviewer, shown):
    log_in_as(page, live_server, "ann" if reviewer else "vic", reviewer=reviewer)
    page.goto(f"{live_server.url}/dashboard/tokens/{refund.id}/")
    expect(page.get_by_role("heading", name="Refund order #5010")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_have_count(shown)
    assert (callback_url(refund) in page.content()) is bool(shown)


def test_readable_context_with_raw_json_one_click_away(page, live_server, refund, artifacts):
    log_in_as(page, live_server, "ann", reviewer=True)
    row = page.locator(f"#row-{refund.id}")
    expect(row.locator(".context-preview")).to_contain_text("Parcel never arrived")
    expect(row.locator(".context-preview")).to_contain_text("€1,299.00")
    page.goto(f"{live_server.url}/dashboard/tokens/{refund.id}/")
    view = page.locator("[data-context-view]")
    expect(view.locator("dd[data-path='refund_amount']")).to_have_text("€1,299.00")
    expect(view.locator("dd[data-path='reason'] strong")).to_have_text("never")
    raw = view.locator("[data-raw-context]")
    expect(raw).to_be_hidden()
    view.get_by_text("Raw JSON").click()
    expect(raw).to_be_visible()
    expect(raw).to_contain_text('"refund_amount": 1299.0')
    page.screenshot(path=artifacts / "detail-readable-context.png", full_page=True)
