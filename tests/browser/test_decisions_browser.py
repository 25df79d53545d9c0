"""Structured decisions in a real browser: an option that requires a comment, a form refused
then accepted (htmx swaps the 2xx partial with the errors), an emailed option link."""

import re

import pytest
from django.core import mail

from dashboard.models import PendingDecision
from tests.browser.support import create_token, log_in
from tests.notifications.support import queued_emails
from waitpoints import wait
from waitpoints.environments.services import environment_get_or_create
from waitpoints.models import CompletionVia, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.create import token_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    """Recorded at once here, except where a test sets the undo window."""
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0


OPTIONS = [
    {"value": "ship", "label": "Ship it", "style": "primary"},
    {"value": "hold", "label": "Hold", "requireComment": True},
]
FORM = {
    "type": "object",
    "properties": {"amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 10}},
    "required": ["amount"],
}


def test_an_option_that_requires_a_comment(page, live_server, api, artifacts):
    from playwright.sync_api import expect

    token = create_token(api, title="Order #5", response={"options": OPTIONS})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/tokens/{token}/")
    page.get_by_role("button", name="Hold").click()
    expect(page.get_by_text("A comment is required to choose Hold.")).to_be_visible()
    assert Waitpoint.objects.get(id=token).status == WaitpointStatus.WAITING
    page.screenshot(path=artifacts / "decision-comment-required.png", full_page=True)

    page.get_by_label("Comment").fill("Waiting for stock")
    page.get_by_role("button", name="Hold").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Chose Hold by alice")
    stored = Waitpoint.objects.get(id=token)
    assert stored.output == {
        "choice": "hold",
        "fields": {},
        "comment": "Waiting for stock",
        "reviewedBy": "alice",
    }


def test_a_form_with_an_invalid_then_a_valid_value(page, live_server, api, artifacts):
    from playwright.sync_api import expect

    token = create_token(api, title="Refund", response={"options": OPTIONS, "schema": FORM})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/tokens/{token}/")
    page.get_by_label("Amount").fill("11")
    page.get_by_role("button", name="Ship it").click()
    expect(page.get_by_text("Ensure this value is less than or equal to 10.")).to_be_visible()
    expect(page.get_by_label("Amount")).to_have_value("11")
    assert Waitpoint.objects.get(id=token).status == WaitpointStatus.WAITING
    page.screenshot(path=artifacts / "decision-form-error.png", full_page=True)

    page.get_by_label("Amount").fill("4")
    page.get_by_role("button", name="Ship it").click()
    expect(page.locator("[data-outcome]")).to_contain_text("Chose Ship it by alice")
    page.screenshot(path=artifacts / "decision-form-done.png", full_page=True)
    assert Waitpoint.objects.get(id=token).output["fields"] == {"amount": 4}


def test_a_form_decision_waits_out_the_undo_window(page, live_server, api, settings):
    from playwright.sync_api import expect

    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 600  # only the Undo ends it here
    token = create_token(api, title="Refund", response={"options": OPTIONS, "schema": FORM})
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/tokens/{token}/")
    page.get_by_label("Amount").fill("4")
    page.get_by_role("button", name="Ship it").click()
    expect(page.get_by_text("Choosing Ship it: recorded in")).to_be_visible()
    pending = PendingDecision.objects.get(token_id=token)
    assert (pending.choice, pending.fields, pending.reviewer) == ("ship", {"amount": 4}, "alice")
    assert Waitpoint.objects.get(id=token).status == WaitpointStatus.WAITING

    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("button", name="Ship it")).to_be_visible()
    assert not PendingDecision.objects.exists()
    assert Waitpoint.objects.get(id=token).status == WaitpointStatus.WAITING


def test_approve_through_an_emailed_option_link(page, live_server, settings, monkeypatch):
    from playwright.sync_api import expect

    settings.WAITPOINTS_PUBLIC_URL = live_server.url
    environment = environment_get_or_create(slug="prod")
    options = [{"value": "approve", "label": "Approve order"}, {"value": "deny", "label": "Deny"}]
    token = token_create(
        environment=environment, timeout="1h", title="Order #9", response={"options": options}
    ).waitpoint
    queue = queued_emails(monkeypatch)
    wait.send_approval_email(token.id, to=["ann@example.com"], environment=environment)
    queue.deliver_now()
    link = re.search(r"^Approve order: (\S+)$", mail.outbox[0].body, re.M).group(1)

    page.goto(link)
    expect(page.get_by_role("heading", name="Order #9")).to_be_visible()
    assert Waitpoint.objects.get(id=token.id).status == WaitpointStatus.WAITING
    page.get_by_role("button", name="Confirm: Approve order").click()
    expect(page.locator("[data-state=done]")).to_be_visible()

    stored = Waitpoint.objects.get(id=token.id)
    assert stored.output == {
        "choice": "approve",
        "fields": {},
        "comment": "",
        "reviewedBy": "ann@example.com",
    }
    assert stored.completed_via == CompletionVia.EMAIL
