"""Reviewer actions: approve/reject (row, detail, bulk), JSON completion, force timeout.

Each checks the stored output and audit row, permissions (403), CSRF, and the outcome shown
when someone else finished the token first.
"""

import pytest
from django.test import Client

from tests.factories import EnvironmentFactory
from tests.helpers import assert_unchanged, stored
from waitpoints.models import (
    AuditEvent,
    CompletionVia,
    Run,
    RunBlock,
    RunStatus,
    WaitpointStatus,
)
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db


def decide_url(token) -> str:
    return f"/dashboard/tokens/{token.id}/decide/"


def test_approve_from_a_row_swaps_the_row_and_stores_the_decision(reviewer_client, make_token):
    token = make_token(title="Post #1")

    response = reviewer_client.post(
        decide_url(token),
        {"choice": "approved", "comment": "looks fine", "render": "row"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="row-{token.id}"')
    assert "badge-approved" in html and 'name="choice"' not in html
    assert 'hx-swap-oob="true"' in html and "Approved: Post #1." in html
    token = stored(token)
    assert token.status == WaitpointStatus.COMPLETED
    assert token.output == {
        "approved": True,
        "status": "approved",
        "choice": "approved",
        "fields": {},
        "comment": "looks fine",
        "reviewedBy": "alice",
    }
    assert (token.completed_via, token.completed_by) == (CompletionVia.DASHBOARD, "alice")
    event = AuditEvent.objects.get(waitpoint=token, action=AuditEvent.Action.COMPLETED)
    assert (event.via, event.actor, event.data["status"]) == ("dashboard", "alice", "approved")


def test_reject_without_javascript_redirects_back(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        decide_url(token), {"choice": "rejected", "comment": "spam", "next": "/dashboard/?tags=x"}
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/?tags=x"
    assert stored(token).output == {
        "approved": False,
        "status": "rejected",
        "choice": "rejected",
        "fields": {},
        "comment": "spam",
        "reviewedBy": "alice",
    }
    page = reviewer_client.get(response["Location"])
    assert b"Rejected: " in page.content  # the message survives the redirect


def test_next_must_stay_on_this_site(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        decide_url(token), {"choice": "approved", "next": "https://evil.example.com/"}
    )
    assert response["Location"] == f"/dashboard/tokens/{token.id}/"


def test_reject_from_the_detail_page_rerenders_the_detail(reviewer_client, make_token):
    token = make_token(title="Refund")
    response = reviewer_client.post(
        decide_url(token),
        {"choice": "rejected", "comment": "no receipt", "render": "detail"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<article id="token-detail"')
    assert "Rejected by alice via the dashboard" in html
    assert "&quot;no receipt&quot;" in html  # the pretty output
    assert stored(token).output["status"] == "rejected"


def test_unknown_decision_changes_nothing(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(decide_url(token), {"choice": "maybe"})

    assert response.status_code == 302 and response["Location"] == f"/dashboard/tokens/{token.id}/"
    assert_unchanged(token)
    page = reviewer_client.get(response["Location"])
    assert "Select a valid choice. maybe is not one of the available choices." in (
        page.content.decode()
    )

    row = reviewer_client.post(
        decide_url(token), {"choice": "maybe", "render": "row"}, HTTP_HX_REQUEST="true"
    )
    assert row.status_code == 200
    html = row.content.decode()
    assert html.lstrip().startswith(f'<tr id="row-{token.id}"')
    assert 'name="choice"' in html and "badge-approved" not in html  # still decidable
    assert "maybe is not one of the available choices" in html
    assert_unchanged(token)


def test_unknown_token_is_404(reviewer_client):
    response = reviewer_client.post(
        "/dashboard/tokens/waitpoint_nope/decide/", {"choice": "approved"}
    )
    assert response.status_code == 404


def test_token_finished_meanwhile_shows_who_finished_it(reviewer_client, make_token, environment):
    token = make_token()
    token_complete(
        environment=environment,
        token_id=token.id,
        data={"approved": True, "status": "approved", "comment": "", "reviewedBy": "bob"},
        via=CompletionVia.DASHBOARD,
        actor="bob",
    )

    response = reviewer_client.post(
        decide_url(token),
        {"choice": "rejected", "comment": "dupe", "render": "row"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "already finished" in html and "Approved by bob via the dashboard" in html
    assert stored(token).output["reviewedBy"] == "bob"  # the first decision stays
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1


def test_anonymous_actions_go_to_login(client, make_token):
    token = make_token()
    response = client.post(decide_url(token), {"choice": "approved"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert stored(token).status == WaitpointStatus.WAITING


@pytest.mark.parametrize(
    "path, data",
    [
        ("decide/", {"choice": "approved"}),
        ("complete/", {"data": "{}"}),
        ("timeout/", {}),
    ],
)
def test_non_reviewer_gets_403_on_every_action(viewer_client, make_token, path, data):
    token = make_token()
    response = viewer_client.post(f"/dashboard/tokens/{token.id}/{path}", data)
    assert response.status_code == 403
    assert b"Reviewers" in response.content
    assert stored(token).status == WaitpointStatus.WAITING


def test_non_reviewer_gets_403_on_bulk(viewer_client, make_token):
    token = make_token()
    response = viewer_client.post("/dashboard/bulk/", {"choice": "approved", "ids": [token.id]})
    assert response.status_code == 403
    assert stored(token).status == WaitpointStatus.WAITING


def test_csrf_is_enforced(reviewer, make_token):
    token = make_token()
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)

    refused = client.post(decide_url(token), {"choice": "approved"})
    assert refused.status_code == 403
    assert stored(token).status == WaitpointStatus.WAITING

    client.get(f"/dashboard/tokens/{token.id}/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(decide_url(token), {"choice": "approved"}, HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 302
    assert stored(token).status == WaitpointStatus.COMPLETED


def test_complete_with_json_stores_the_value(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/complete/",
        {"data": '{"score": 7, "labels": ["spam"]}', "render": "detail"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    token = stored(token)
    assert token.output == {"score": 7, "labels": ["spam"]}
    assert (token.completed_via, token.completed_by) == ("dashboard", "alice")


def test_complete_with_invalid_json_shows_where_it_broke(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        f"/dashboard/tokens/{token.id}/complete/",
        {"data": '{"score": 7,\n "x": }', "render": "detail"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Not valid JSON" in html and "line 2" in html
    assert '<details class="json-complete" open>' in html  # the form stays open with the text
    assert stored(token).status == WaitpointStatus.WAITING


def test_complete_with_nan_is_refused(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(f"/dashboard/tokens/{token.id}/complete/", {"data": "NaN"})
    assert response.status_code == 422 and b"Not storable" in response.content
    assert stored(token).status == WaitpointStatus.WAITING


def test_complete_with_empty_json_means_null_output(reviewer_client, make_token):
    token = make_token()
    reviewer_client.post(f"/dashboard/tokens/{token.id}/complete/", {"data": "  "})
    token = stored(token)
    assert token.status == WaitpointStatus.COMPLETED and token.output is None
    page = reviewer_client.get(f"/dashboard/tokens/{token.id}/")
    assert b"Completed with no output." in page.content


def test_force_timeout_times_the_token_out_and_audits(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(f"/dashboard/tokens/{token.id}/timeout/")
    assert response.status_code == 302
    token = stored(token)
    assert token.status == WaitpointStatus.TIMED_OUT
    event = AuditEvent.objects.get(waitpoint=token, action=AuditEvent.Action.FORCED_TIMEOUT)
    assert event.actor == "alice"
    page = reviewer_client.get(f"/dashboard/tokens/{token.id}/").content.decode()
    assert "Timed out at" in page and "WaitpointTimeoutError" in page


def test_bulk_approve_decides_each_selected_waiting_token(reviewer_client, make_token, environment):
    first, second, untouched = make_token(), make_token(), make_token()
    finished = make_token()
    token_complete(
        environment=environment, token_id=finished.id, data=None, via="api", actor="wp_prod_abc"
    )

    response = reviewer_client.post(
        "/dashboard/bulk/",
        {
            "ids": [first.id, second.id, finished.id],
            "choice": "approved",
            "comment": "batch ok",
            "query": "status=",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="inbox-results"')
    assert "Approved 2 tokens." in html
    assert f"Not changed: {finished.id} — Completed by wp_prod_abc via the API." in html
    for token in (first, second):
        output = stored(token).output
        assert output == {
            "approved": True,
            "status": "approved",
            "choice": "approved",
            "fields": {},
            "comment": "batch ok",
            "reviewedBy": "alice",
        }
    assert stored(untouched).status == WaitpointStatus.WAITING
    assert stored(finished).output is None
    # The answer is the table of the filters it came from ("any status").
    assert f'id="row-{untouched.id}"' in html and f'id="row-{finished.id}"' in html


def test_bulk_reject_without_javascript_redirects_to_the_filters(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        "/dashboard/bulk/",
        {"ids": [token.id], "choice": "rejected", "comment": "spam", "query": "tags=a"},
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/?tags=a"
    assert stored(token).output["status"] == "rejected"


def test_bulk_without_selection_says_so(reviewer_client, make_token):
    token = make_token()
    response = reviewer_client.post(
        "/dashboard/bulk/", {"choice": "approved"}, HTTP_HX_REQUEST="true"
    )
    assert b"Select at least one token." in response.content
    assert stored(token).status == WaitpointStatus.WAITING


def test_bulk_is_limited_to_one_page_of_tokens(reviewer_client, make_token):
    token = make_token()
    ids = [token.id] + [f"waitpoint_fake{i}" for i in range(100)]
    response = reviewer_client.post(
        "/dashboard/bulk/", {"choice": "approved", "ids": ids}, HTTP_HX_REQUEST="true"
    )
    assert b"at most 100 tokens" in response.content
    assert stored(token).status == WaitpointStatus.WAITING


def test_detail_page_shows_everything_about_a_token(reviewer_client, make_token, environment):
    token = make_token(
        title="Publish post",
        context={"postId": 9, "author": "ann"},
        tags=["moderation", "user:42"],
        idempotency_key="post-9",
    )
    run = Run.objects.create(environment=environment, task_id="moderate", status=RunStatus.WAITING)
    RunBlock.objects.create(run=run, waitpoint=token)

    response = reviewer_client.get(f"/dashboard/tokens/{token.id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert callback_url(token) in html and "data-copy-target" in html
    assert "Publish post" in html and "&quot;postId&quot;: 9" in html
    assert "/dashboard/?status=&amp;tags=user%3A42" in html  # a tag filters the list
    assert "post-9" in html and "expires" in html
    assert f'data-countdown="{token.timeout_at.isoformat()}"' in html
    assert f"/dashboard/runs/{run.id}/" in html
    assert "Force timeout" in html and "Complete with JSON" in html
    run_page = reviewer_client.get(f"/dashboard/runs/{run.id}/").content.decode()
    assert f"/dashboard/tokens/{token.id}/" in run_page and "moderate" in run_page


def test_detail_of_unknown_token_is_404(reviewer_client):
    assert reviewer_client.get("/dashboard/tokens/waitpoint_missing/").status_code == 404


def test_tokens_of_every_environment_are_reachable(reviewer_client):
    other = EnvironmentFactory(slug="qa")
    token = token_create(environment=other, timeout="1h").waitpoint
    reviewer_client.post(decide_url(token), {"choice": "approved"})
    assert stored(token).status == WaitpointStatus.COMPLETED


def test_migration_creates_the_reviewers_group_with_the_permission(db):
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="Reviewers")
    assert [p.codename for p in group.permissions.all()] == ["complete_waitpoint"]


def test_swapped_row_keeps_the_inbox_filters_in_its_links(reviewer_client, make_token):
    token = make_token(tags=["moderation"])
    response = reviewer_client.post(
        decide_url(token),
        {"choice": "approved", "render": "row", "next": "/dashboard/?status=&env=prod"},
        HTTP_HX_REQUEST="true",
    )
    assert (
        'href="/dashboard/?status=&amp;env=prod&amp;tags=moderation"' in response.content.decode()
    )
