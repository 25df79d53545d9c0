"""The dashboard and the emailed links follow the same rules as the reviews API: only those who
may decide vote (after the undo window, a vote), the requester never; links go only to them."""

import pytest
from django.test import Client

from tests.helpers import assert_unchanged, reviewers_group, stored
from waitpoints import wait
from waitpoints.errors import InvalidInput
from waitpoints.models import WaitpointVote
from waitpoints.notifications import emails
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def decide_at_once(settings):
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 0


def logged_in(user):
    user.groups.add(reviewers_group())
    client = Client()
    client.force_login(user)
    return client


def decide(client, token, choice="approved"):
    return client.post(
        f"/dashboard/tokens/{token.id}/decide/",
        {"render": "detail", "choice": choice, "comment": ""},
        HTTP_HX_REQUEST="true",
    )


def test_two_of_two_through_the_dashboard(environment, people):
    token = token_create(
        environment=environment, timeout="1h", approvals={"required": 2}, requested_by="dora"
    ).waitpoint
    assert decide(logged_in(people["anna"]), token).status_code == 200
    assert stored(token).status == "WAITING"
    assert [v.reviewer for v in WaitpointVote.objects.filter(waitpoint=token)] == ["anna"]
    again = decide(logged_in(people["anna"]), token)
    assert "You already approved" in again.content.decode()
    decide(logged_in(people["ben"]), token)
    finished = stored(token)
    assert finished.status == "COMPLETED" and finished.completed_via == "dashboard"
    assert [v["reviewer"] for v in finished.output["votes"]] == ["anna", "ben"]


def test_the_requester_and_the_unassigned_are_refused_in_the_dashboard(environment, people):
    token = token_create(
        environment=environment,
        timeout="1h",
        reviewers={"groups": ["finance"]},
        requested_by="dora@example.com",
    ).waitpoint
    html = decide(logged_in(people["dora"]), token).content.decode()
    assert "You requested this; someone else must decide" in html
    html = decide(logged_in(people["carl"]), token).content.decode()
    assert "Assigned to finance" in html
    assert_unchanged(token)
    assert not WaitpointVote.objects.exists()


def test_the_undo_window_records_no_pending_decision_for_the_requester(
    environment, people, settings
):
    settings.WAITPOINTS_DASHBOARD_UNDO_SECONDS = 5
    token = token_create(environment=environment, timeout="1h", requested_by="dora").waitpoint
    html = decide(logged_in(people["dora"]), token).content.decode()
    assert "You requested this" in html
    from dashboard.models import PendingDecision

    assert not PendingDecision.objects.exists()


def link_path(token, choice, recipient):
    signed = emails.sign_approval_link(waitpoint=token, choice=choice, recipient=recipient)
    return f"/approve/{signed}/"


def test_an_emailed_link_records_a_vote_and_refuses_the_requester(environment, people):
    token = token_create(
        environment=environment,
        timeout="1h",
        approvals={"required": 2},
        requested_by="dora@example.com",
        notify=["anna@example.com", "outside@partner.example"],
    ).waitpoint
    client = Client()
    response = client.post(link_path(token, "approved", "anna@example.com"), {"comment": ""})
    assert response.status_code == 200
    assert stored(token).status == "WAITING"
    assert WaitpointVote.objects.get(waitpoint=token).reviewer == "anna"
    # A link could only reach the requester by being forwarded: still refused.
    refused = client.post(link_path(token, "approved", "dora@example.com"), {"comment": ""})
    assert "You requested this; someone else must decide" in refused.content.decode()
    assert WaitpointVote.objects.filter(waitpoint=token).count() == 1
    client.post(link_path(token, "approved", "outside@partner.example"), {"comment": ""})
    finished = stored(token)
    assert finished.status == "COMPLETED" and finished.completed_via == "email"
    assert [v["via"] for v in finished.output["votes"]] == ["email", "email"]


def test_links_are_issued_only_to_people_who_may_decide(environment, people):
    token = token_create(
        environment=environment, timeout="1h", reviewers={"users": ["anna"]}, requested_by="dora"
    ).waitpoint
    with pytest.raises(InvalidInput) as refused:
        wait.send_approval_email(token.id, to=["carl@example.com"], environment=environment)
    assert "to[0]" in refused.value.details
    with pytest.raises(InvalidInput):
        wait.send_approval_email(token.id, to=["dora@example.com"], environment=environment)
    assert wait.send_approval_email(token.id, to=["anna@example.com"], environment=environment)


def test_the_inbox_and_detail_show_progress_and_act_only_where_i_may(environment, people):
    token = token_create(
        environment=environment,
        timeout="1h",
        title="Refund 12",
        reviewers={"users": ["anna", "ben"]},
        approvals={"required": 2},
        requested_by="dora",
    ).waitpoint
    decide(logged_in(people["anna"]), token)
    ben_inbox = logged_in(people["ben"]).get("/dashboard/").content.decode()
    assert "1 of 2 approved — anna ✓, ben pending" in ben_inbox
    assert f'action="/dashboard/tokens/{token.id}/decide/"' in ben_inbox
    for name, reason in (
        ("dora", "You requested this; someone else must decide"),
        ("carl", "Assigned to anna, ben"),
        ("anna", "You already approved"),
    ):
        client = logged_in(people[name])
        for page in ("/dashboard/", f"/dashboard/tokens/{token.id}/"):
            html = client.get(page).content.decode()
            assert reason in html, (name, page)
            assert f'action="/dashboard/tokens/{token.id}/decide/"' not in html, (name, page)
            assert f'action="/dashboard/tokens/{token.id}/choose/"' not in html, (name, page)
        assert "/callback/" not in client.get(f"/dashboard/tokens/{token.id}/").content.decode()


def test_the_link_page_shows_progress_and_a_vote_is_not_the_decision(environment, people):
    token = token_create(environment=environment, timeout="1h", approvals={"required": 2}).waitpoint
    client = Client()
    path = link_path(token, "approved", "anna@example.com")
    html = client.post(path, {"comment": ""}).content.decode()
    assert "Your vote is recorded" in html and "1 of 2 approved — anna ✓" in html
    again = client.get(path).content.decode()
    assert "You already approved" in again and "<form" not in again
    other = client.get(link_path(token, "approved", "ben@example.com")).content.decode()
    assert "1 of 2 approved — anna ✓" in other and "<form" in other


def test_bulk_votes_per_token_and_reports_the_ones_i_could_not_act_on(environment, people):
    mine = token_create(environment=environment, timeout="1h", approvals={"required": 2}).waitpoint
    theirs = token_create(environment=environment, timeout="1h", requested_by="anna").waitpoint
    response = logged_in(people["anna"]).post(
        "/dashboard/bulk/",
        {"ids": [mine.id, theirs.id], "choice": "approved", "comment": ""},
        follow=True,
    )
    assert WaitpointVote.objects.get(waitpoint=mine).reviewer == "anna"
    assert_unchanged(theirs)
    assert "You requested this; someone else must decide" in response.content.decode()


def test_assigned_to_me_is_the_default_view_of_people_with_assignments(environment, people):
    mine = token_create(
        environment=environment,
        timeout="1h",
        title="Mine by group",
        reviewers={"groups": ["finance"]},
    ).waitpoint
    by_email = token_create(
        environment=environment,
        timeout="1h",
        title="Mine by email",
        reviewers={"users": ["ANNA@example.com"]},
        approvals={"required": 2},
    ).waitpoint
    token_create(
        environment=environment, timeout="1h", title="For carl", reviewers={"users": ["carl"]}
    )
    token_create(environment=environment, timeout="1h", title="For anyone")
    anna = logged_in(people["anna"])
    html = anna.get("/dashboard/").content.decode()
    assert "Mine by group" in html and "Mine by email" in html
    assert "For carl" not in html and "For anyone" not in html
    everyone = anna.get("/dashboard/?mine=&status=WAITING").content.decode()
    assert "For carl" in everyone and "For anyone" in everyone
    decide(anna, by_email)  # voted: no longer waiting for her
    html = anna.get("/dashboard/").content.decode()
    assert "Mine by group" in html and "Mine by email" not in html
    assert mine.id in html
    # Someone without assignments sees every token by default.
    dora = logged_in(people["dora"]).get("/dashboard/").content.decode()
    assert "For carl" in dora and "For anyone" in dora


def test_the_inbox_costs_the_same_queries_for_more_tokens_with_votes(environment, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_tokens(count):
        for _ in range(count):
            token = token_create(
                environment=environment,
                timeout="1h",
                reviewers={"groups": ["finance"]},
                approvals={"required": 3},
            ).waitpoint
            decide(logged_in(people["ben"]), token)

    anna = logged_in(people["anna"])
    add_tokens(2)
    with CaptureQueriesContext(connection) as few:
        anna.get("/dashboard/?mine=&status=WAITING")
    add_tokens(6)
    with CaptureQueriesContext(connection) as many:
        html = anna.get("/dashboard/?mine=&status=WAITING").content.decode()
    assert html.count("1 of 3 approved — ben ✓, finance (group) pending") == 8
    assert len(many.captured_queries) == len(few.captured_queries)


def test_who_may_not_act_sees_no_callback_url_not_even_its_label(environment, people):
    token = token_create(
        environment=environment, timeout="1h", approvals={"required": 2}, requested_by="dora"
    ).waitpoint
    detail = f"/dashboard/tokens/{token.id}/"
    may_act = logged_in(people["anna"]).get(detail).content.decode()
    assert "Callback URL" in may_act and 'data-copy-target="#callback-url"' in may_act
    for person in ("dora", "anna"):  # the requester; then anna, once she has voted
        if person == "anna":
            decide(logged_in(people["anna"]), token)
        page = logged_in(people[person]).get(detail).content.decode()
        assert "Callback URL" not in page and "callback-url" not in page
