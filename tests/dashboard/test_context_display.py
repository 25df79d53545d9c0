"""Readable context: the inbox row's preview, the detail page, the email-confirm page and the
approval email show labelled, formatted values (with the creator's hints), safely, with the raw
JSON one click away."""

import re
from html import unescape

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard.test_emails import links_in
from tests.notifications.support import queued_emails
from waitpoints import wait

pytestmark = pytest.mark.django_db

REFUND = {
    "refund_amount": 1299.0,
    "reason": "Parcel **never** arrived",
    "order_url": "https://shop.example.com/orders/5010",
    "ordered_on": "2026-11-28",
    "customer": {"name": "أمينة", "vip": True},
}
HINTS = {"refund_amount": "money:EUR", "reason": "markdown"}


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def detail(client, token) -> str:
    response = client.get(f"/dashboard/tokens/{token.id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_detail_page_shows_labelled_formatted_values(reviewer_client, make_token):
    token = make_token(title="Refund", context=REFUND, display=HINTS)
    page = detail(reviewer_client, token)
    view = page.split("data-context-view", 1)[1].split("</details>", 1)[0]
    words = text_of(view)
    assert "Refund amount €1,299.00" in words
    assert "1299.0" not in words.split("Raw JSON")[0]
    assert "<strong>never</strong>" in view
    assert (
        '<a href="https://shop.example.com/orders/5010" rel="noopener noreferrer nofollow"' in view
    )
    assert '<time datetime="2026-11-28">2026-11-28</time>' in view
    # Nested objects are labelled fields too (PostgreSQL's jsonb orders keys its own way).
    customer = text_of(view.split('data-path="customer"', 1)[1].split("</dl>", 1)[0])
    assert "Name أمينة" in customer and "Vip Yes" in customer
    assert '<span class="ctx-text" dir="auto">أمينة</span>' in view
    # The raw JSON, one click away.
    assert "<details" in view and "Raw JSON" in view and "&quot;refund_amount&quot;: 1299.0" in view


def test_defaults_without_hints(reviewer_client, make_token):
    token = make_token(context={"refund_amount": 1299.0, "body": "**not markdown**"})
    words = text_of(detail(reviewer_client, token).split("data-context-view", 1)[1])
    assert "Refund amount 1,299 " in words and "Body **not markdown**" in words


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[data](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="https://evil.example" onclick="x()">raw</a>',
    ],
)
def test_markdown_is_sanitized(reviewer_client, make_token, hostile):
    token = make_token(context={"body": hostile, "plain": hostile}, display={"body": "markdown"})
    page = detail(reviewer_client, token)
    view = page.split("data-context-view", 1)[1].split("<details", 1)[0]
    # The hostile markup is text (escaped) in both fields, never a tag or an attribute.
    assert "<script" not in view and "<img" not in view
    assert not re.search(r"<[^>]*\son\w+\s*=", view)
    assert 'href="javascript:' not in view and 'href="data:' not in view


def test_links_are_only_http_https_or_mailto(reviewer_client, make_token):
    token = make_token(
        context={"a": "javascript:alert(1)", "b": "mailto:ops@example.com", "c": "ftp://x.org/f"},
        display={"a": "link", "b": "link", "c": "link"},
    )
    view = detail(reviewer_client, token).split("data-context-view", 1)[1].split("<details")[0]
    assert re.findall(r'href="([^"]+)"', view) == ["mailto:ops@example.com"]


def test_hidden_and_nested_hints(reviewer_client, make_token):
    token = make_token(
        context={"order": {"total": "49.5", "internal_note": "secret-ish"}, "items": [{"p": 3}]},
        display={
            "order.total": "money:USD",
            "order.internal_note": "hidden",
            "items.*.p": "number",
        },
    )
    words = text_of(detail(reviewer_client, token).split("data-context-view", 1)[1].split("Raw")[0])
    assert "Total $49.50" in words and "Internal note" not in words and "#1 P 3" in words


def test_inbox_row_previews_text_amount_and_link(reviewer_client, make_token):
    make_token(title="Refund", context=REFUND, display=HINTS)
    page = reviewer_client.get("/dashboard/").content.decode()
    preview = page.split('class="context-preview">', 1)[1].split("</p>", 1)[0]
    words = text_of(preview)
    assert words.startswith("Parcel never arrived")
    assert "Refund amount: €1,299.00" in words
    assert "shop.example.com/orders/5010" in words
    assert 'rel="noopener noreferrer nofollow"' in preview


def test_inbox_previews_cost_no_query(reviewer_client, make_token):
    def queries_for_inbox() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert reviewer_client.get("/dashboard/").status_code == 200
        return len(captured)

    make_token(title="Refund", context=REFUND, display=HINTS)
    queries_for_inbox()  # session and permission caches warm
    one_row = queries_for_inbox()
    for number in range(10):
        make_token(title=f"Refund {number}", context=REFUND, display=HINTS)
    assert queries_for_inbox() == one_row


def test_email_and_confirm_page_show_the_readable_context(
    client, make_token, monkeypatch, django_capture_on_commit_callbacks
):
    queue = queued_emails(monkeypatch)
    token = make_token(title="Refund", context=REFUND, display=HINTS)
    with django_capture_on_commit_callbacks(execute=True):
        wait.send_approval_email(token.id, to="ann@example.com", environment="prod")
    queue.deliver_now()
    (message,) = mail.outbox
    # The email: formatted in HTML and in text, the raw JSON behind <details> in HTML.
    html = message.alternatives[0][0]
    assert "€1,299.00" in html and "<strong>never</strong>" in html and "<details" in html
    assert "Refund amount: €1,299.00" in message.body
    assert "Order URL: https://shop.example.com/orders/5010" in message.body
    assert "  Name: أمينة" in message.body
    # The page the email's link opens.
    page = client.get(links_in(message)["approve"]).content.decode()
    assert "Refund amount €1,299.00" in text_of(page.split("data-context-view", 1)[1])
    assert "Raw JSON" in page
