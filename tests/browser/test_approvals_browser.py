"""Who decides, in a real browser: two reviewers approve a 2-of-2 token — the first sees "1 of
2", the second's approval finishes it — and the requester sees no buttons, only why."""

import pytest

from tests.browser.conftest import new_page, serious_violations
from tests.browser.support import create_token, log_in
from waitpoints.models import Waitpoint, WaitpointStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0


def test_two_of_two_approvals_and_the_requester_sees_no_buttons(
    browser, live_server, api, artifacts
):
    from playwright.sync_api import expect

    pages = {}
    try:
        for name in ("anna", "ben", "dora"):  # logging in creates the users the token names
            pages[name] = new_page(browser)
            log_in(pages[name], live_server, username=name)
        token = create_token(
            api,
            title="Raise the limit",
            reviewers={"users": ["anna", "ben"]},
            approvals={"required": 2},
            requestedBy="dora",
        )
        detail = f"{live_server.url}/dashboard/tokens/{token}/"

        anna = pages["anna"]
        anna.goto(detail)
        anna.get_by_role("button", name="Approve").click()
        expect(anna.locator("[data-progress]")).to_contain_text(
            "1 of 2 approved — anna ✓, ben pending"
        )
        expect(anna.locator("[data-refusal]")).to_have_text("You already approved")
        assert Waitpoint.objects.get(id=token).status == WaitpointStatus.WAITING
        anna.screenshot(path=artifacts / "approvals-1-of-2.png", full_page=True)
        assert serious_violations(anna) == []

        dora = pages["dora"]
        dora.goto(detail)
        expect(dora.locator("[data-refusal]")).to_have_text(
            "You requested this; someone else must decide"
        )
        expect(dora.get_by_role("button", name="Approve")).to_have_count(0)
        expect(dora.get_by_role("button", name="Reject")).to_have_count(0)
        dora.goto(f"{live_server.url}/dashboard/")
        expect(dora.locator(f"#row-{token} [data-refusal]")).to_be_visible()
        expect(dora.locator(f"#row-{token} button")).to_have_count(0)
        dora.screenshot(path=artifacts / "approvals-requester.png", full_page=True)

        ben = pages["ben"]
        ben.goto(detail)
        expect(ben.locator("[data-progress]")).to_contain_text("1 of 2 approved")
        ben.get_by_role("button", name="Approve").click()
        expect(ben.locator("[data-outcome]")).to_contain_text("Approved by ben")
        stored = Waitpoint.objects.get(id=token)
        assert stored.status == WaitpointStatus.COMPLETED
        assert [vote["reviewer"] for vote in stored.output["votes"]] == ["anna", "ben"]
        assert not [error for page in pages.values() for error in page.console_errors]
    finally:
        for page in pages.values():
            page.goto("about:blank")  # no live refresh in flight when the server stops
            page.context.close()
