"""End to end in a real browser: what only a browser proves (htmx swaps, self-refresh, the
emailed link's confirm page, phone width). Screenshots land in test-artifacts/."""

import contextlib
import re

import pytest
from django.core import mail

from tests.browser.support import create_token, log_in, more_filters, no_horizontal_overflow
from tests.notifications.support import queued_emails
from waitpoints import wait
from waitpoints.environments.services import environment_get_or_create
from waitpoints.models import CompletionVia, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.create import token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-alice-123"


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    """Decisions are recorded at once here; test_triage_browser.py covers the undo window."""
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0


def test_reviewer_filters_approves_rejects_and_sees_new_tokens(page, live_server, api, artifacts):
    from playwright.sync_api import expect

    approve_me = create_token(
        api,
        title="Publish post #9",
        tags=["moderation"],
        timeout="2h",
        context={"postId": 9, "excerpt": "Hello world"},
    )
    reject_me = create_token(
        api,
        title="Refund order #77",
        tags=["moderation", "refunds"],
        timeout="30m",
        idempotencyKey="refund-77",
        context={"amount": "129.00", "currency": "EUR"},
    )
    unrelated = create_token(api, title="Deploy v2 to prod", tags=["deploy"], timeout="1h")

    log_in(page, live_server)
    expect(page.locator(f"#row-{unrelated}")).to_be_visible()
    page.screenshot(path=artifacts / "inbox.png", full_page=True)

    # Filter by a tag: only the table is swapped, the URL is pushed.
    more_filters(page)
    tags = page.get_by_label("Tags (has all)")
    tags.fill("moderation")
    tags.press("Enter")
    expect(page).to_have_url(re.compile(r"tags=moderation"))
    expect(page.locator(f"#row-{unrelated}")).to_have_count(0)
    expect(page.locator(f"#row-{approve_me}")).to_be_visible()
    expect(page.locator(f"#row-{reject_me}")).to_be_visible()

    # Approve one from the list: the row is swapped in place, a message says so.
    row = page.locator(f"#row-{approve_me}")
    row.get_by_role("button", name="Approve", exact=True).click()
    expect(row.locator(".badge")).to_have_text("approved")
    expect(page.locator("#messages")).to_contain_text("Approved: Publish post #9.")

    # A token created meanwhile is announced without a reload, filters kept; shown on request.
    newcomer = create_token(api, title="Arrived later", tags=["moderation"], timeout="1h")
    page.get_by_role("button", name="1 new — show").click(timeout=15_000)
    expect(page.locator(f"#row-{newcomer}")).to_be_visible()
    assert "tags=moderation" in page.url
    page.screenshot(path=artifacts / "inbox-filtered.png", full_page=True)

    # Reject the other from its detail page.
    page.locator(f"#row-{reject_me} .token-title").click()
    page.wait_for_url(f"{live_server.url}/dashboard/tokens/{reject_me}/")
    expect(page.get_by_role("heading", name="Refund order #77")).to_be_visible()
    page.screenshot(path=artifacts / "detail.png", full_page=True)
    page.get_by_label("Comment (required to reject)").fill("No receipt attached")
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator("[data-outcome]")).to_contain_text("Rejected by alice via the dashboard")
    page.screenshot(path=artifacts / "detail-rejected.png", full_page=True)

    # The API reports both outputs.
    approved = api.get(f"{api.base}/{approve_me}", timeout=10).json()
    rejected = api.get(f"{api.base}/{reject_me}", timeout=10).json()
    assert approved["status"] == rejected["status"] == "COMPLETED"
    assert approved["output"] == {
        "approved": True,
        "status": "approved",
        "choice": "approved",
        "fields": {},
        "comment": "",
        "reviewedBy": "alice",
    }
    assert rejected["output"] == {
        "approved": False,
        "status": "rejected",
        "choice": "rejected",
        "fields": {},
        "comment": "No receipt attached",
        "reviewedBy": "alice",
    }


def test_filter_answered_before_a_decision_never_undoes_it_on_screen(page, live_server, api):
    """A filter request still in flight when the reviewer clicks Approve (its answer read the
    row as WAITING) must not land afterwards: it would swap in the stale row and detach the one
    the decision updates."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    token = create_token(api, title="Race the filter", tags=["race"], timeout="1h")
    log_in(page, live_server)
    row = page.locator(f"#row-{token}")
    expect(row).to_be_visible()

    held = []  # the filter's answer, fetched now (the row is WAITING) and delivered later

    def hold_filter_answer(route):
        held.append((route, route.fetch()))

    page.route(re.compile(r"/dashboard/\?.*tags=race"), hold_filter_answer)
    more_filters(page)
    with page.expect_request(re.compile(r"tags=race")):
        tags = page.get_by_label("Tags (has all)")
        tags.fill("race")
        tags.press("Enter")
    row.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Approved: Race the filter.")
    assert held, "the filter request was not intercepted"
    for route, answer in held:
        with contextlib.suppress(PlaywrightError):  # the page aborted it: what the fix does
            route.fulfill(response=answer)
    page.wait_for_timeout(500)  # room for a stale answer to be swapped in, if it were accepted

    expect(row.locator(".badge")).to_have_text("approved")
    assert Waitpoint.objects.get(id=token).output["status"] == "approved"


def test_bulk_approve_and_json_completion(page, live_server, api, artifacts):
    from playwright.sync_api import expect

    first = create_token(api, title="Batch item 1", tags=["batch"], timeout="1h")
    second = create_token(api, title="Batch item 2", tags=["batch"], timeout="1h")
    by_json = create_token(api, title="Needs a score", timeout="1h")

    log_in(page, live_server)
    page.locator(f"#row-{first} input[name=ids]").check()
    page.locator(f"#row-{second} input[name=ids]").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#messages")).to_contain_text("Approved 2 tokens.")
    expect(page.locator(f"#row-{first} .badge")).to_have_count(0)  # gone from the WAITING view
    assert Waitpoint.objects.get(id=second).output["status"] == "approved"

    page.goto(f"{live_server.url}/dashboard/tokens/{by_json}/")
    page.get_by_text("Complete with JSON").click()
    page.get_by_label("Output (JSON)").fill('{"score": ')
    page.get_by_role("button", name="Complete with this output").click()
    expect(page.locator(".field-error")).to_contain_text("Not valid JSON")
    page.get_by_label("Output (JSON)").fill('{"score": 8}')
    page.get_by_role("button", name="Complete with this output").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Completed by alice")
    assert Waitpoint.objects.get(id=by_json).output == {"score": 8}


def test_pages_fit_a_phone(browser, live_server, api, artifacts):
    token = create_token(
        api,
        title="Approve the new pricing page copy before launch",
        tags=["marketing", "launch:2026-q4"],
        timeout="3h",
        context={"url": "https://example.com/pricing", "changes": 14},
    )
    create_token(api, title="Second item", tags=["marketing"], timeout="20m")
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        log_in(page, live_server, screenshot=artifacts / "phone-login.png")
        page.screenshot(path=artifacts / "phone-inbox.png", full_page=True)
        assert no_horizontal_overflow(page)
        page.goto(f"{live_server.url}/dashboard/tokens/{token}/")
        page.screenshot(path=artifacts / "phone-detail.png", full_page=True)
        assert no_horizontal_overflow(page)
    finally:
        context.close()


def test_emailed_link_is_confirmed_in_the_browser(
    page, live_server, settings, artifacts, monkeypatch
):
    from playwright.sync_api import expect

    settings.WAITPOINTS_PUBLIC_URL = live_server.url
    environment = environment_get_or_create(slug="prod")
    token = token_create(
        environment=environment,
        timeout="1h",
        title="Refund order #78",
        context={"amount": "59.90", "currency": "EUR", "reason": "damaged"},
    ).waitpoint
    queue = queued_emails(monkeypatch)
    wait.send_approval_email(token.id, to=["ann@example.com"], environment=environment)
    queue.deliver_now()
    link = re.search(r"Approve: (\S+)", mail.outbox[0].body).group(1)
    page.set_content(mail.outbox[0].alternatives[0][0])
    page.screenshot(path=artifacts / "email-html.png", full_page=True)

    page.goto(link)
    expect(page.get_by_role("heading", name="Refund order #78")).to_be_visible()
    assert Waitpoint.objects.get(id=token.id).status == WaitpointStatus.WAITING
    page.screenshot(path=artifacts / "email-confirm.png", full_page=True)
    page.get_by_role("button", name="Confirm approval").click()
    expect(page.get_by_role("heading", name="Approved")).to_be_visible()
    page.screenshot(path=artifacts / "email-done.png", full_page=True)

    stored = Waitpoint.objects.get(id=token.id)
    assert stored.status == WaitpointStatus.COMPLETED
    assert (stored.completed_via, stored.completed_by) == (CompletionVia.EMAIL, "ann@example.com")
    assert stored.output["reviewedBy"] == "ann@example.com"

    page.goto(link)  # reusing the link shows the outcome
    expect(page.get_by_role("heading", name="Already decided")).to_be_visible()


def test_filters_and_actions_work_without_javascript(browser, live_server, api):
    from playwright.sync_api import expect

    tagged = create_token(api, title="Tagged item", tags=["legal"], timeout="1h")
    untagged = create_token(api, title="Other item", timeout="1h")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server)
        more_filters(page)
        tags = page.get_by_label("Tags (has all)")
        tags.fill("legal")
        tags.press("Enter")  # a plain GET form submission
        page.wait_for_url(re.compile(r"tags=legal"))
        expect(page.locator(f"#row-{untagged}")).to_have_count(0)
        page.locator(f"#row-{tagged}").get_by_role("button", name="Approve", exact=True).click()
        page.wait_for_url(re.compile(r"/dashboard/\?.*tags=legal"))
        expect(page.locator("#messages")).to_contain_text("Approved: Tagged item.")
        assert Waitpoint.objects.get(id=tagged).output["reviewedBy"] == "alice"
    finally:
        context.close()


def test_refresh_keeps_ticked_rows_and_typing_never_pauses_it(page, live_server, api):
    from playwright.sync_api import expect

    ticked = create_token(api, title="Ticked", timeout="1h")
    typed_in = create_token(api, title="Typed in", timeout="1h")
    log_in(page, live_server)

    page.locator(f"#row-{ticked} input[name=ids]").check()
    comment = page.locator(f"#row-{typed_in} input[name=comment]")
    comment.fill("half-written thought")
    first = create_token(api, title="First newcomer", timeout="1h")
    # A draft no longer freezes the refresh: the newcomer is announced while the draft stays.
    expect(page.get_by_role("button", name="1 new — show")).to_be_visible(timeout=15_000)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    expect(comment).to_have_value("half-written thought")
    expect(page.locator(f"#row-{ticked} input[name=ids]")).to_be_checked()

    page.get_by_role("button", name="1 new — show").click()
    expect(page.locator(f"#row-{first}")).to_be_visible()
    expect(page.locator(f"#row-{ticked} input[name=ids]")).to_be_checked()
    expect(page.locator(f"#row-{typed_in} input[name=comment]")).to_have_value(
        "half-written thought"
    )
