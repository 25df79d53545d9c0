"""Deciding with a token's contract in the dashboard and through emailed links: the form from
the schema, required comments, one link per option, Extend deadline."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from tests.helpers import assert_unchanged, stored
from waitpoints.models import AuditEvent, CompletionVia, WaitpointStatus

pytestmark = pytest.mark.django_db

RESPONSE = {
    "options": [
        {"value": "ship", "label": "Ship it", "style": "primary"},
        {"value": "hold", "label": "Hold", "requireComment": True},
    ],
    "schema": {
        "type": "object",
        "properties": {
            "amount": {"type": "integer", "title": "Amount", "minimum": 1, "maximum": 10},
            "carrier": {"type": "string", "enum": ["UPS", "DHL"]},
            "due": {"type": "string", "format": "date"},
            "fragile": {"type": "boolean"},
        },
        "required": ["amount"],
    },
}


def choose(client, token, data):
    return client.post(
        f"/dashboard/tokens/{token.id}/choose/",
        {"render": "detail", **data},
        HTTP_HX_REQUEST="true",
    )


def test_the_detail_page_shows_one_button_per_option_and_the_form(reviewer_client, make_token):
    token = make_token(response=RESPONSE)
    html = reviewer_client.get(f"/dashboard/tokens/{token.id}/").content.decode()
    assert re.search(r'name="choice" value="ship" class="btn btn-approve"', html)
    assert 'name="choice" value="hold"' in html and "data-require-comment" in html
    assert 'name="field_0"' in html and 'type="number"' in html and 'type="date"' in html
    assert "Decide" in html and "Extend deadline" in html and "Ship it" in html


def test_an_invalid_value_is_shown_on_its_field_as_a_2xx_partial(reviewer_client, make_token):
    token = make_token(response=RESPONSE)
    response = choose(reviewer_client, token, {"choice": "ship", "field_0": "11"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="token-detail"' in html and "<html" not in html
    assert "less than or equal to 10" in html and 'value="11"' in html
    assert_unchanged(token)
    response = choose(
        reviewer_client,
        token,
        {"choice": "ship", "field_0": "4", "field_1": "DHL", "field_3": "on"},
    )
    assert response.status_code == 200
    assert stored(token).output == {
        "choice": "ship",
        "fields": {"amount": 4, "carrier": "DHL", "fragile": True},
        "comment": "",
        "reviewedBy": "alice",
    }


def test_an_option_that_requires_a_comment_asks_for_it(reviewer_client, make_token):
    token = make_token(response=RESPONSE)
    response = choose(reviewer_client, token, {"choice": "hold", "field_0": "2"})
    assert (
        response.status_code == 200
        and "A comment is required to choose Hold" in response.content.decode()
    )
    assert_unchanged(token)
    choose(reviewer_client, token, {"choice": "hold", "field_0": "2", "comment": "wait for stock"})
    assert stored(token).output["comment"] == "wait for stock"
    assert stored(token).completed_via == CompletionVia.DASHBOARD


def test_multiple_choices_from_checkboxes(reviewer_client, make_token):
    token = make_token(
        response={"options": [{"value": "a"}, {"value": "b"}, {"value": "c"}], "multiple": True}
    )
    assert choose(reviewer_client, token, {"choice": ["a", "c"]}).status_code == 200
    assert stored(token).output["choice"] == ["a", "c"]


def test_an_unknown_choice_changes_nothing(reviewer_client, make_token):
    token = make_token(response=RESPONSE)
    response = choose(reviewer_client, token, {"choice": "sail", "field_0": "2"})
    assert response.status_code == 200
    assert_unchanged(token)


def test_viewers_cannot_choose_or_extend(viewer_client, make_token):
    token = make_token(response=RESPONSE)
    assert choose(viewer_client, token, {"choice": "ship", "field_0": "2"}).status_code == 403
    response = viewer_client.post(f"/dashboard/tokens/{token.id}/extend/", {"extend": "1h"})
    assert response.status_code == 403
    assert_unchanged(token)


def test_extend_deadline_by_an_hour_a_day_or_to_a_custom_one(reviewer_client, make_token):
    token = make_token(timeout="1h")
    deadline = stored(token).timeout_at
    url = f"/dashboard/tokens/{token.id}/extend/"
    assert reviewer_client.post(url, {"extend": "1h"}).status_code == 302
    assert stored(token).timeout_at == deadline + timedelta(hours=1)
    reviewer_client.post(url, {"extend": "1d"})
    assert stored(token).timeout_at == deadline + timedelta(hours=25)
    response = reviewer_client.post(
        url, {"extend": "custom", "custom": "5m"}, HTTP_HX_REQUEST="true"
    )
    assert (
        response.status_code == 200
        and "must be later than the current deadline" in response.content.decode()
    )
    reviewer_client.post(url, {"extend": "custom", "custom": "30d"})
    assert stored(token).timeout_at > deadline + timedelta(days=29)
    events = AuditEvent.objects.filter(waitpoint_id=token.id, action="extended")
    assert [event.actor for event in events] == ["alice"] * 3


def option_links(message) -> dict[str, str]:
    found = re.findall(r"^(.+): https?://[^/]+(/approve/[^\s]+/)$", message.body, re.M)
    return dict(found)


def test_the_email_has_one_signed_link_per_option(send_email, make_token):
    token = make_token(response={"options": RESPONSE["options"]})
    send_email(token.id, to="ann@example.com")
    links = option_links(mail.outbox[0])
    assert set(links) == {"Ship it", "Hold"}
    html = mail.outbox[0].alternatives[0][0]
    assert "Ship it…" in html and "Hold…" in html

    client = Client()
    page = client.get(links["Hold"]).content.decode()
    assert "Confirm: Hold" in page and "Comment (required)" in page
    response = client.post(links["Hold"], {"comment": ""})
    assert "A comment is required to choose Hold" in response.content.decode()
    assert_unchanged(token)
    response = client.post(links["Hold"], {"comment": "out of stock"})
    assert response.status_code == 200 and 'data-state="done"' in response.content.decode()
    waitpoint = stored(token)
    assert waitpoint.output == {
        "choice": "hold",
        "fields": {},
        "comment": "out of stock",
        "reviewedBy": "ann@example.com",
    }
    assert waitpoint.completed_via == CompletionVia.EMAIL


def test_a_link_of_a_token_with_a_form_opens_the_form(send_email, make_token):
    token = make_token(response=RESPONSE)
    send_email(token.id, to="ann@example.com")
    ship = option_links(mail.outbox[0])["Ship it"]
    client = Client()
    page = client.get(ship).content.decode()
    assert 'name="field_0"' in page and "Confirm: Ship it" in page
    response = client.post(ship, {"field_0": "0"})
    assert "greater than or equal to 1" in response.content.decode()
    assert_unchanged(token)
    client.post(ship, {"field_0": "3", "field_2": "2026-12-24"})
    assert stored(token).output["fields"] == {"amount": 3, "due": "2026-12-24", "fragile": False}
    assert stored(token).status == WaitpointStatus.COMPLETED


def test_rows_show_one_button_per_option_or_a_link_to_the_form(reviewer_client, make_token):
    buttons = make_token(title="Buttons", response={"options": RESPONSE["options"]})
    form = make_token(title="Form", response=RESPONSE)
    html = reviewer_client.get("/dashboard/").content.decode()
    row = html[html.index(f'id="row-{buttons.id}"') :]
    row = row[: row.index("</tr>")]
    assert re.search(r'value="ship" class="btn btn-approve"[^>]*>Ship it<', row)
    assert 'value="hold"' in row
    form_row = html[html.index(f'id="row-{form.id}"') :]
    form_row = form_row[: form_row.index("</tr>")]
    assert 'name="choice"' not in form_row and "Decide…" in form_row
    assert 'name="ids"' not in form_row  # required fields: no bulk decision


def test_a_row_choice_that_needs_a_comment_reports_it(reviewer_client, make_token):
    token = make_token(response={"options": RESPONSE["options"]})
    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/choose/",
        {"choice": "hold", "render": "row"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "A comment is required to choose Hold" in response.content.decode()
    assert_unchanged(token)


def test_bulk_offers_the_common_options_and_skips_tokens_refusing_them(reviewer_client, make_token):
    options = [{"value": "ship"}, {"value": "hold"}]
    first = make_token(response={"options": options})
    second = make_token(response={"options": [*options, {"value": "cancel"}]})
    make_token(response=RESPONSE)  # required fields: left out of the bulk options
    html = reviewer_client.get("/dashboard/").content.decode()
    bar = html[html.index('id="bulk-form"') : html.index("</form>", html.index('id="bulk-form"'))]
    assert re.findall(r'name="choice" value="(\w+)"', bar) == ["ship", "hold"]

    other = make_token()  # approve/reject only: "ship" is no option of it
    reviewer_client.post(
        "/dashboard/bulk/", {"ids": [first.id, second.id, other.id], "choice": "ship"}
    )
    assert stored(first).output["choice"] == stored(second).output["choice"] == "ship"
    assert_unchanged(other)


def test_json_and_old_approve_forms_are_checked_against_the_contract(reviewer_client, make_token):
    token = make_token(response={"options": RESPONSE["options"]})
    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/complete/",
        {"data": '{"choice": "sail"}', "render": "detail"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "data.choice" in response.content.decode()
    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"choice": "approved", "render": "row"},
        HTTP_HX_REQUEST="true",
    )
    # The form checks the choice before anything is stored (or waits out the undo window).
    html = response.content.decode()
    assert response.status_code == 200 and "approved is not one of the available choices" in html
    assert_unchanged(token)
