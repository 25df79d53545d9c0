"""Issue 10 in a real browser: a moderator cannot decide the wrong thing without noticing.

The list never moves under the pointer, Enter never decides, an ended session or a revoked
permission is said on screen, long titles fit, Back/Forward keep the filters and the list in
step, drafts survive refreshes, decisions wait out an undo window, and the keyboard triages.
"""

import re

import pytest
from django.contrib.auth.models import Group

from dashboard.models import PendingDecision
from tests.browser.support import (
    create_token,
    log_in,
    more_filters,
    no_horizontal_overflow,
    wait_past_a_refresh,
)
from tests.helpers import stored
from waitpoints.models import WaitpointStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def complete_via_api(api, token_id: str, data=None) -> None:
    response = api.post(f"{api.base}/{token_id}/complete", json={"data": data}, timeout=10)
    response.raise_for_status()


def pending_tokens() -> set[str]:
    return set(PendingDecision.objects.values_list("token_id", flat=True))


def test_the_hovered_row_is_the_one_decided_after_a_token_arrives(page, live_server, api):
    from playwright.sync_api import expect

    older = create_token(api, title="comment #5009", timeout="1h")
    hovered = create_token(api, title="comment #5010", timeout="1h")
    log_in(page, live_server)
    approve = page.locator(f"#row-{hovered}").get_by_role("button", name="Approve", exact=True)
    box = approve.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)

    arrived = create_token(api, title="comment #5011", timeout="1h")
    # Wait until the page knows of the newcomer: announced (now) or inserted (before the fix).
    page.wait_for_function(
        "id => document.querySelector('[data-show-new]:not([hidden])')"
        " || document.getElementById('row-' + id)",
        arg=arrived,
        timeout=20_000,
    )
    page.mouse.click(x, y)
    # Some row answered the click: pending now, or decided (before the fix).
    page.wait_for_function(
        "() => document.querySelector('#inbox-results tr.token-row.is-pending,"
        " #inbox-results tr.token-row:not(.is-waiting)')"
    )

    # Decided (before the fix) or pending in its undo window: only the hovered token.
    touched = pending_tokens() | {
        t for t in (older, hovered, arrived) if stored(t).status != WaitpointStatus.WAITING
    }
    assert touched == {hovered}
    expect(page.locator(f"#row-{hovered}")).to_have_attribute("data-state", "pending-approved")
    expect(page.get_by_role("button", name="1 new — show")).to_be_visible()


def test_enter_in_a_comment_box_never_decides(page, live_server, api):
    from playwright.sync_api import expect

    typed, clicked, bulk = (create_token(api, title=f"Post {n}", timeout="1h") for n in range(3))
    log_in(page, live_server)

    comment = page.locator(f"#row-{typed} input[name=comment]")
    comment.fill("Spam — remove this post")
    comment.press("Enter")
    page.wait_for_load_state("networkidle")
    page.locator(f"#row-{bulk} input[name=ids]").check()
    page.get_by_label("Comment for the selected tokens").fill("looks fine")
    page.get_by_label("Comment for the selected tokens").press("Enter")
    page.wait_for_load_state("networkidle")
    assert pending_tokens() == set()
    assert {stored(t).status for t in (typed, bulk)} == {WaitpointStatus.WAITING}
    expect(comment).to_have_value("Spam — remove this post")

    # The buttons still decide.
    page.locator(f"#row-{clicked}").get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator(f"#row-{clicked}")).to_have_attribute("data-state", "pending-approved")
    assert pending_tokens() == {clicked}
    assert {stored(t).status for t in (typed, clicked, bulk)} == {WaitpointStatus.WAITING}


def test_an_ended_session_pauses_and_sends_to_login_never_into_the_table(page, live_server, api):
    from playwright.sync_api import expect

    token = create_token(api, title="Refund #77", timeout="1h")
    log_in(page, live_server)
    other_tab = page.context.new_page()
    other_tab.goto(f"{live_server.url}/dashboard/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url(re.compile(r"/accounts/login/|/$"))

    expect(page.locator("#live-state")).to_contain_text("session has ended", timeout=20_000)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#inbox-results input[name=password]")).to_have_count(0)

    row = page.locator(f"#row-{token}")
    row.locator("input[name=comment]").fill("fraud")
    row.get_by_role("button", name="Reject", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next=%2Fdashboard%2F"))
    expect(page.get_by_label("Password")).to_be_visible()
    assert stored(token).status == WaitpointStatus.WAITING and pending_tokens() == set()


def test_a_long_unbroken_title_fits_desktop_and_phone(page, live_server, api):
    token = create_token(api, title="W" * 200, tags=["moderation", "refunds"], timeout="1h")
    log_in(page, live_server)
    assert no_horizontal_overflow(page)
    assert page.locator(f"#row-{token} .col-tags").bounding_box()["width"] >= 100
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert no_horizontal_overflow(page)
    page.goto(f"{live_server.url}/dashboard/tokens/{token}/")
    assert no_horizontal_overflow(page)


def test_back_and_forward_keep_the_filters_and_the_list_in_step(page, live_server, api):
    from playwright.sync_api import expect

    legal = create_token(api, title="Legal", tags=["legal"], timeout="1h")
    ops = create_token(api, title="Ops", tags=["ops"], timeout="1h")
    log_in(page, live_server)
    more_filters(page)
    tags = page.get_by_label("Tags (has all)")
    for name in ("legal", "ops"):
        tags.fill(name)
        tags.press("Enter")
        page.wait_for_url(re.compile(rf"tags={name}"))

    page.go_back()
    page.wait_for_url(re.compile(r"tags=legal"))
    expect(page.get_by_label("Tags (has all)")).to_have_value("legal")
    expect(page.locator(f"#row-{legal}")).to_be_visible()
    expect(page.locator(f"#row-{ops}")).to_have_count(0)

    page.go_forward()
    page.wait_for_url(re.compile(r"tags=ops"))
    expect(page.get_by_label("Tags (has all)")).to_have_value("ops")
    expect(page.locator(f"#row-{ops}")).to_be_visible()
    expect(page.locator(f"#row-{legal}")).to_have_count(0)


def test_a_draft_never_freezes_the_list_and_is_kept_per_token(page, live_server, api):
    from playwright.sync_api import expect

    drafted = create_token(api, title="Post with a draft", timeout="1h")
    elsewhere = create_token(api, title="Decided by bob", timeout="1h")
    log_in(page, live_server)
    comment = page.locator(f"#row-{drafted} input[name=comment]")
    comment.fill("Spam — remove this post")

    complete_via_api(api, elsewhere, {"by": "bob"})
    other_row = page.locator(f"#row-{elsewhere}")
    expect(other_row).to_have_attribute("data-state", "completed", timeout=20_000)
    expect(other_row).to_have_class(re.compile(r"\bis-changed\b"))  # marked in place
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    expect(comment).to_have_value("Spam — remove this post")

    page.reload()  # the draft is kept per token
    expect(page.locator(f"#row-{drafted} input[name=comment]")).to_have_value(
        "Spam — remove this post"
    )

    complete_via_api(api, drafted, {"by": "carol"})
    note = page.locator(f"#row-{drafted} .draft-note")
    expect(note).to_contain_text("Spam — remove this post", timeout=20_000)
    expect(note).to_contain_text("Decided by someone else first")


def test_a_revoked_permission_is_said_on_screen(page, live_server, api):
    from playwright.sync_api import expect

    token = create_token(api, title="Refund #9", timeout="1h")
    user = log_in(page, live_server)
    user.groups.remove(Group.objects.get(name="Reviewers"))

    row = page.locator(f"#row-{token}")
    row.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Not allowed")
    expect(page.locator("#messages")).to_contain_text("nothing was recorded")
    expect(row.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    assert stored(token).status == WaitpointStatus.WAITING and pending_tokens() == set()


def test_undo_takes_a_decision_back_and_a_lapsed_one_is_recorded(
    page, live_server, api, start_worker, settings
):
    from playwright.sync_api import expect

    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 2
    start_worker()
    token = create_token(api, title="Deploy v2", timeout="1h")
    log_in(page, live_server)
    row = page.locator(f"#row-{token}")

    row.get_by_role("button", name="Approve", exact=True).click()
    expect(row).to_have_attribute("data-state", "pending-approved")
    expect(row.get_by_role("button", name="Undo")).to_be_focused()
    row.get_by_role("button", name="Undo").click()
    expect(row).to_have_attribute("data-state", "waiting")
    expect(page.locator("#messages")).to_contain_text("Undone: nothing was recorded")
    wait_past_a_refresh(page)  # longer than the window: its message found nothing to apply
    assert stored(token).status == WaitpointStatus.WAITING and pending_tokens() == set()

    row.get_by_role("button", name="Approve", exact=True).click()
    expect(row).to_have_attribute("data-state", "pending-approved")
    # The worker records it when the window lapses; the live refresh shows it in place.
    expect(row).to_have_attribute("data-state", "approved", timeout=20_000)
    assert stored(token).output["reviewedBy"] == "alice"
    assert pending_tokens() == set()


def test_keyboard_triage(page, live_server, api):
    from playwright.sync_api import expect

    first, second, third = (create_token(api, title=f"Item {n}", timeout="1h") for n in range(3))
    log_in(page, live_server)  # newest first: third, second, first
    expect(page.locator(f"#row-{first}")).to_be_visible()
    page.locator("h1").click()  # the page has the keyboard; no element has focus
    keys = page.keyboard

    keys.press("j")
    expect(page.locator(f"#row-{third}")).to_be_focused()
    keys.press("j")
    keys.press("a")
    expect(page.locator(f"#row-{second}")).to_have_attribute("data-state", "pending-approved")
    expect(page.locator(f"#row-{second} [data-undo]")).to_be_focused()  # not the page body

    keys.press("j")
    expect(page.locator(f"#row-{first}")).to_be_focused()
    keys.press("r")  # Reject needs a reason: the box takes focus, nothing is sent
    reason = page.locator(f"#row-{first} input[name=comment]")
    expect(reason).to_be_focused()
    expect(page.locator("#messages")).to_contain_text("Type the reason")
    assert pending_tokens() == {second}
    keys.type("duplicate of #12")  # letters typed in a box stay text
    keys.press("Escape")
    keys.press("r")
    expect(page.locator(f"#row-{first}")).to_have_attribute("data-state", "pending-rejected")
    expect(page.locator(f"#row-{first} [data-undo]")).to_be_focused()
    assert PendingDecision.objects.get(token_id=first).comment == "duplicate of #12"

    keys.press("k")
    keys.press("k")
    expect(page.locator(f"#row-{third}")).to_be_focused()
    keys.press("x")
    expect(page.locator(f"#row-{third} input[name=ids]")).to_be_checked()

    keys.press("/")
    expect(page.locator("#id_q")).to_be_focused()
    keys.press("Escape")
    page.locator("h1").click()
    keys.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#shortcuts")).to_be_hidden()
