"""Safe triage on the server side: a reason required on Reject (configurable), an ended session
answered for htmx with HX-Redirect (never a login page in the table), Enter guarded in every
decision form, branded error pages, the favicon, and the CSP without 'unsafe-eval'."""

import re

import pytest

from tests.helpers import stored
from waitpoints.models import WaitpointStatus
from waitpoints.notifications import emails

pytestmark = pytest.mark.django_db


def reject(client, token, comment="", render="row"):
    return client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"choice": "rejected", "comment": comment, "render": render},
        HTTP_HX_REQUEST="true",
    )


def test_reject_without_a_reason_is_refused_and_the_row_keeps_asking(reviewer_client, make_token):
    token = make_token()
    response = reject(reviewer_client, token, comment="   ")
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps it: the error shows in the row
    assert "A comment is required to choose Reject." in html and 'aria-invalid="true"' in html
    assert 'name="choice"' in html
    assert stored(token).status == WaitpointStatus.WAITING


def test_reject_reason_on_the_detail_page_and_in_bulk(reviewer_client, make_token):
    token = make_token()
    html = reject(reviewer_client, token, render="detail").content.decode()
    assert "A comment is required to choose Reject." in html and 'id="decision-error"' in html
    bulk = reviewer_client.post(
        "/dashboard/bulk/", {"choice": "rejected", "ids": [token.id]}, HTTP_HX_REQUEST="true"
    )
    assert "A comment is required to choose Reject" in bulk.content.decode()
    assert stored(token).status == WaitpointStatus.WAITING


def test_a_deployment_may_make_the_reason_optional(reviewer_client, make_token, settings):
    settings.WAITPOINTS_REJECT_REQUIRES_REASON = False
    token = make_token()
    reject(reviewer_client, token)
    assert stored(token).output["status"] == "rejected"


def test_approve_needs_no_comment(reviewer_client, make_token):
    token = make_token()
    reviewer_client.post(f"/dashboard/tokens/{token.id}/decide/", {"choice": "approved"})
    assert stored(token).output["status"] == "approved"


def test_every_decision_form_starts_with_a_disabled_default_button(reviewer_client, make_token):
    """Enter in a text field submits with the form's first submit button; a disabled one makes
    implicit submission do nothing (HTML's "implicit submission")."""
    make_token()
    inbox = reviewer_client.get("/dashboard/").content.decode()
    for form_start in ('id="bulk-form"', 'class="row-decide"'):
        form = inbox.split(form_start, 1)[1].split("</form>", 1)[0]
        first_submit = form.split('type="submit"', 1)[1].split(">", 1)[0]
        assert "disabled" in first_submit, form_start


def test_an_ended_session_gets_hx_redirect_to_login_not_a_page(client, make_token):
    token = make_token()
    refresh = client.get(
        "/dashboard/?status=&refresh=1",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/dashboard/?status=",
    )
    assert refresh.status_code == 401
    assert refresh["HX-Redirect"] == "/accounts/login/?next=%2Fdashboard%2F%3Fstatus%3D"
    assert b"<html" not in refresh.content
    action = client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"choice": "approved"},
        HTTP_HX_REQUEST="true",
    )
    assert action.status_code == 401 and action["HX-Redirect"].startswith("/accounts/login/")
    # Without htmx: the usual redirect.
    assert client.get("/dashboard/").status_code == 302


def test_branded_404_and_403_pages(reviewer_client, viewer_client, make_token):
    missing = reviewer_client.get("/dashboard/tokens/waitpoint_nope/")
    assert missing.status_code == 404 and b"Nothing here" in missing.content
    assert b"Back to the tokens" in missing.content
    token = make_token()
    refused = viewer_client.post(f"/dashboard/tokens/{token.id}/decide/", {"choice": "approved"})
    assert refused.status_code == 403 and b"Reviewers" in refused.content


def test_branded_500_page_renders_without_a_request_context():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html and "favicon.svg" in html


def test_favicon_has_a_home(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("/static/favicon.svg")
    assert b'rel="icon"' in client.get("/accounts/login/").content


def test_csp_allows_no_eval(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy


def test_user_text_is_marked_dir_auto(reviewer_client, make_token):
    make_token(title="مراجعة المنشور", tags=["عربي"])
    html = reviewer_client.get("/dashboard/").content.decode()
    assert 'class="token-title" dir="auto"' in html and 'class="tag" dir="auto"' in html


def test_a_viewer_sees_no_decision_shortcut_targets(viewer_client, make_token):
    make_token()
    html = viewer_client.get("/dashboard/").content.decode()
    assert "data-choice" not in html


def test_shortcut_keys_go_to_the_first_primary_and_the_first_danger_option(
    reviewer_client, make_token
):
    options = [
        {"value": "later", "label": "Later"},
        {"value": "ship", "label": "Ship", "style": "primary"},
        {"value": "hold", "label": "Hold", "style": "danger"},
        {"value": "send", "label": "Send", "style": "primary"},
    ]
    token = make_token(response={"options": options})
    html = reviewer_client.get("/dashboard/").content.decode()
    row = html[html.index(f'id="row-{token.id}"') :]
    row = row[: row.index("</tr>")]
    keys = dict(re.findall(r'value="(\w+)" class="[^"]*" data-choice="(\w*)"', row))
    assert keys == {"later": "", "ship": "a", "hold": "r", "send": ""}


def test_an_emailed_reject_link_asks_for_the_reason_too(client, make_token, settings):
    settings.WAITPOINTS_REJECT_REQUIRES_REASON = True
    token = make_token()
    signed = emails.sign_approval_link(waitpoint=token, choice="rejected", recipient="a@b.co")
    page = client.get(f"/approve/{signed}/").content.decode()
    assert "Comment (required)" in page

    refused = client.post(f"/approve/{signed}/", {"comment": " "})
    assert refused.status_code == 200
    assert "A comment is required to choose Reject." in refused.content.decode()
    assert stored(token).status == WaitpointStatus.WAITING

    client.post(f"/approve/{signed}/", {"comment": "spam"})
    assert stored(token).output["comment"] == "spam"
    assert stored(token).completed_via == "email"
