"""axe-core (serious and critical violations) on every page a reviewer or approver sees, during
and after a live refresh, with no console error; screenshots of the inbox (desktop and 390 px),
the detail and the email-confirm pages; the phone layout (issue 10, items 12, 13, 15, 16)."""

import re

import pytest

from tests.browser.conftest import new_page, serious_violations
from tests.browser.support import create_token, log_in, no_horizontal_overflow, wait_past_a_refresh
from waitpoints.environments.services import environment_get_or_create
from waitpoints.models import Run, RunBlock, RunStatus, Waitpoint
from waitpoints.notifications import emails

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def complete_via_api(api, token_id: str, data) -> None:
    api.post(f"{api.base}/{token_id}/complete", json={"data": data}, timeout=10).raise_for_status()


def until(page, predicate, *, what: str, timeout_ms: int = 20_000):
    """Poll `predicate` while Playwright dispatches its events (route handlers run meanwhile)."""
    for _ in range(timeout_ms // 50):
        if predicate():
            return
        page.wait_for_timeout(50)
    pytest.fail(f"Timed out waiting for {what}")


def assert_accessible(page, where: str) -> None:
    assert serious_violations(page) == [], where


def some_tokens(api) -> list[str]:
    ids = [
        create_token(
            api,
            title="Publish comment #5010",
            tags=["moderation", "user:42"],
            timeout="2h",
            context={"text": "Great post!", "postId": 5010},
        ),
        create_token(api, title="مراجعة المنشور رقم ٧", tags=["عربي"], timeout="30m"),
        create_token(api, title="Refund order #77", tags=["refunds"], timeout="1h"),
    ]
    complete_via_api(api, ids[2], {"approved": True, "status": "approved", "reviewedBy": "bob"})
    return ids


def test_every_page_passes_axe_during_and_after_a_refresh(browser, live_server, api, artifacts):
    from playwright.sync_api import expect

    page = new_page(browser, timezone_id="Asia/Kolkata")
    try:
        post, arabic, refund = some_tokens(api)
        page.goto(f"{live_server.url}/dashboard/")
        assert_accessible(page, "login")
        log_in(page, live_server)
        assert_accessible(page, "inbox")
        page.screenshot(path=artifacts / "inbox-desktop.png", full_page=True)

        # During a refresh: hold its answer, check, then let it land (a row changes in place
        # and a newcomer is announced), and check again.
        held = []
        page.route(re.compile(r"/dashboard/\?.*refresh=1"), lambda route: held.append(route))
        complete_via_api(api, post, {"approved": False, "status": "rejected", "reviewedBy": "x"})
        create_token(api, title="Arrived during the refresh", timeout="1h")
        until(page, lambda: held, what="a live refresh to be sent")
        assert held, "no live refresh was sent"
        opacity = (
            page.locator(f"#row-{arabic}")
            .get_by_role("button", name="Approve")
            .evaluate("button => getComputedStyle(button).opacity")
        )
        assert opacity == "1"  # nothing fades while a refresh is in flight
        assert_accessible(page, "inbox during a refresh")
        held[0].continue_()
        page.unroute(re.compile(r"/dashboard/\?.*refresh=1"))
        expect(page.locator(f"#row-{post}")).to_have_attribute("data-state", "rejected")
        expect(page.get_by_role("button", name="1 new — show")).to_be_visible()
        assert_accessible(page, "inbox after a refresh")

        page.locator(f"#row-{arabic}").get_by_role("button", name="Approve").click()
        expect(page.locator(f"#row-{arabic}")).to_have_attribute("data-state", "pending-approved")
        assert_accessible(page, "inbox with a pending decision")

        page.goto(f"{live_server.url}/dashboard/?status=")
        assert_accessible(page, "inbox, any status")

        page.goto(f"{live_server.url}/dashboard/tokens/{post}/")
        assert_accessible(page, "detail, decided")
        page.goto(f"{live_server.url}/dashboard/tokens/{arabic}/")
        created = page.locator("dd time[data-local]").first
        assert "UTC" not in created.inner_text() and created.get_attribute("title").endswith("UTC")
        assert_accessible(page, "detail, pending")
        page.screenshot(path=artifacts / "detail-pending.png", full_page=True)

        environment = environment_get_or_create(slug="prod")
        run = Run.objects.create(
            environment=environment, task_id="moderate", status=RunStatus.WAITING
        )
        RunBlock.objects.create(run=run, waitpoint_id=refund)
        page.goto(f"{live_server.url}/dashboard/runs/{run.id}/")
        assert_accessible(page, "run")

        waiting = Waitpoint.objects.get(
            id=create_token(api, title="Refund #78", timeout="1h", context={"amount": 59.9})
        )
        signed = emails.sign_approval_link(waitpoint=waiting, choice="rejected", recipient="a@b.co")
        page.goto(f"{live_server.url}/approve/{signed}/")
        expect(page.get_by_role("button", name="Confirm rejection")).to_be_visible()
        assert_accessible(page, "email confirm")
        page.screenshot(path=artifacts / "email-confirm-reject.png", full_page=True)

        assert page.console_errors == []
        print(f"\nScreenshots in {artifacts}")

        page.goto(f"{live_server.url}/dashboard/tokens/waitpoint_missing/")
        expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
        assert_accessible(page, "404")
    finally:
        page.context.close()


OPTIONS = [
    {"value": "ship", "label": "Ship it", "style": "primary"},
    {"value": "hold", "label": "Hold", "style": "danger", "requireComment": True},
    {"value": "later", "label": "Later"},
]
FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 10},
        "carrier": {"type": "string", "enum": ["UPS", "DHL"]},
        "due": {"type": "string", "format": "date"},
        "fragile": {"type": "boolean"},
    },
    "required": ["amount"],
}


def test_option_buttons_and_forms_pass_axe(page, live_server, api, artifacts):
    """Issue 11's option buttons in rows, the contract form (with errors, then pending), and the
    emailed link's form page."""
    from playwright.sync_api import expect

    buttons = create_token(api, title="Order #5", timeout="1h", response={"options": OPTIONS})
    form = create_token(
        api, title="Refund #6", timeout="1h", response={"options": OPTIONS, "schema": FORM}
    )
    several = create_token(
        api, title="Labels #7", timeout="1h", response={"options": OPTIONS, "multiple": True}
    )
    log_in(page, live_server)
    expect(page.locator(f"#row-{buttons}").get_by_role("button", name="Ship it")).to_be_visible()
    expect(page.locator(f"#row-{form}").get_by_role("link", name="Decide…")).to_be_visible()
    expect(page.locator(f"#row-{several}").get_by_role("link", name="Decide…")).to_be_visible()
    assert_accessible(page, "inbox with option buttons")

    page.goto(f"{live_server.url}/dashboard/tokens/{form}/")
    assert_accessible(page, "detail with a form")
    page.get_by_label("Amount").fill("11")
    page.get_by_role("button", name="Ship it").click()
    expect(page.get_by_text("Ensure this value is less than or equal to 10.")).to_be_visible()
    assert_accessible(page, "detail with form errors")
    page.get_by_label("Amount").fill("4")
    page.get_by_role("button", name="Ship it").click()
    expect(page.locator("#token-detail")).to_have_attribute("data-state", "pending-ship")
    assert_accessible(page, "detail, a form decision pending")
    page.screenshot(path=artifacts / "detail-form-pending.png", full_page=True)

    page.goto(f"{live_server.url}/dashboard/tokens/{several}/")
    assert_accessible(page, "detail with several choices")

    waiting = Waitpoint.objects.get(id=form)
    signed = emails.sign_approval_link(waitpoint=waiting, choice="hold", recipient="a@b.co")
    page.goto(f"{live_server.url}/approve/{signed}/")
    expect(page.get_by_role("button", name="Confirm: Hold")).to_be_visible()
    assert_accessible(page, "email confirm with a form")
    assert page.console_errors == []


def test_phone_shows_tokens_first_with_large_targets(browser, live_server, api, artifacts):
    from playwright.sync_api import expect

    page = new_page(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        post, arabic, _ = some_tokens(api)
        log_in(page, live_server)
        assert no_horizontal_overflow(page)
        # The filters and the bulk bar leave the first token, and its Approve, on the first screen.
        first_row = page.locator("#inbox-results tr.token-row").first
        approve = first_row.get_by_role("button", name="Approve").bounding_box()
        assert approve["y"] + approve["height"] <= 844
        box = page.locator(f"#row-{post} input[name=ids]").bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24
        page.screenshot(path=artifacts / "inbox-phone.png", full_page=True)
        assert_accessible(page, "inbox at 390 px")

        page.locator(f"#row-{arabic}").scroll_into_view_if_needed()
        page.locator(f"#row-{arabic}").get_by_role("button", name="Approve").click()
        message = page.locator("#messages .message").last
        expect(message).to_be_in_viewport()  # the answer shows where the reviewer is
        assert page.console_errors == []
    finally:
        page.context.close()


def test_a_refresh_keeps_selected_text(page, live_server, api):
    post, arabic, _ = some_tokens(api)
    log_in(page, live_server)
    title = page.locator(f"#row-{arabic} .token-title")
    title.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " getSelection().removeAllRanges(); getSelection().addRange(r); }"
    )
    complete_via_api(api, post, None)
    create_token(api, title="Newcomer", timeout="1h")
    wait_past_a_refresh(page)
    assert page.evaluate("() => getSelection().toString()") == "مراجعة المنشور رقم ٧"


def test_tab_reaches_the_first_decision_quickly(page, live_server, api):
    some_tokens(api)
    log_in(page, live_server)
    page.goto(page.url)  # focus starts at the top of a fresh page
    presses = 0
    while presses < 40 and not page.evaluate(
        "() => document.activeElement.matches('.row-decide button[data-choice]')"
    ):
        page.keyboard.press("Tab")
        presses += 1
    print(f"\nTab presses to the first Approve: {presses}")
    assert presses <= 16
