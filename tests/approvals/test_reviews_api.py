"""Who decides, through the API: assignment, no self-approval, quorum, veto (README, "Who decides")."""

import pytest

from tests.helpers import TOKENS, assert_unchanged, stored
from waitpoints.models import AuditEvent, WaitpointVote

pytestmark = pytest.mark.django_db


def test_a_user_named_as_reviewer_decides_and_others_may_not(people, create_token, vote):
    token = create_token(reviewers={"users": ["anna"]})
    refused = vote(token, "carl")
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_reviewer"
    assert "Assigned to anna" in refused.json()["error"]
    assert_unchanged(token)
    body = vote(token, "anna").json()
    assert body["status"] == "COMPLETED"
    assert body["output"]["approved"] is True and body["output"]["reviewedBy"] == "anna"
    assert [v["reviewer"] for v in body["output"]["votes"]] == ["anna"]


def test_a_reviewer_by_email_matches_the_user_with_that_address(people, create_token, vote):
    token = create_token(reviewers={"users": ["ben@example.com"]})
    assert vote(token, "anna").status_code == 403
    body = vote(token, "ben").json()
    assert body["status"] == "COMPLETED" and body["votes"][0]["reviewer"] == "ben"


def test_members_of_a_group_decide(people, create_token, vote):
    token = create_token(reviewers={"groups": ["finance"]})
    assert vote(token, "carl").status_code == 403
    assert vote(token, "BEN@example.com").json()["status"] == "COMPLETED"


def test_an_outside_approver_by_email_address(people, create_token, vote):
    token = create_token(reviewers={"users": ["auditor@partner.example"]})
    assert vote(token, "someone@partner.example").status_code == 403
    body = vote(token, "Auditor@Partner.example").json()
    assert (
        body["status"] == "COMPLETED" and body["votes"][0]["reviewer"] == "auditor@partner.example"
    )


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"reviewers": {"users": ["nobody"]}}, "reviewers.users[0]"),
        ({"reviewers": {"groups": ["nogroup"]}}, "reviewers.groups[0]"),
        ({"reviewers": {}}, "reviewers"),
        ({"reviewers": {"users": ["anna"], "teams": []}}, "reviewers.teams"),
        ({"approvals": {"required": 0}}, "approvals.required"),
        ({"approvals": {"required": 21}}, "approvals.required"),
        ({"approvals": 2}, "approvals"),
        ({"requestedBy": ""}, "requestedBy"),
        ({"remind": {"every": "10s"}}, "remind.every"),
        ({"remind": {"every": "4h", "max": 0}}, "remind.max"),
        ({"escalate": {"after": "1d", "to": ["ghost"]}}, "escalate.to[0]"),
        ({"escalate": {"after": "soon", "to": ["anna"]}}, "escalate.after"),
        ({"requestedBy": "dora", "notify": ["dora@example.com"]}, "notify[0]"),
        ({"reviewers": {"users": ["anna"]}, "notify": ["carl@example.com"]}, "notify[0]"),
    ],
)
def test_bad_policy_fields_are_refused_and_nothing_is_created(people, api, fields, detail):
    response = api.post(TOKENS, {"title": "x", **fields}, format="json")
    assert response.status_code == 422, response.content
    assert detail in response.json()["details"], response.json()
    assert api.get(TOKENS).json()["data"] == []


def test_the_requester_may_never_decide(people, create_token, vote):
    token = create_token(requestedBy="dora@example.com", reviewers={"groups": ["finance"]})
    for name in ("dora", "dora@example.com"):
        refused = vote(token, name)
        assert refused.status_code == 403
        assert refused.json()["error"] == "You requested this; someone else must decide"
    dora = people["dora"]
    people["anna"].groups.first().user_set.add(dora)  # even when in the assigned group
    assert vote(token, "dora").status_code == 403
    assert_unchanged(token)


def test_quorum_of_three_stays_waiting_until_the_third_approval(people, create_token, vote, api):
    token = create_token(approvals={"required": 3})
    assert vote(token, "anna", comment="fine").json()["status"] == "WAITING"
    body = vote(token, "ben").json()
    assert body["status"] == "WAITING" and [v["reviewer"] for v in body["votes"]] == ["anna", "ben"]
    assert body["approvals"] == {"required": 3}
    assert_unchanged(token)
    body = vote(token, "carl").json()
    assert body["status"] == "COMPLETED"
    output = body["output"]
    assert output["approved"] is True and output["status"] == "approved"
    assert [(v["reviewer"], v["choice"], v["via"]) for v in output["votes"]] == [
        ("anna", "approved", "api"),
        ("ben", "approved", "api"),
        ("carl", "approved", "api"),
    ]
    assert output["votes"][0]["comment"] == "fine"
    actions = list(
        AuditEvent.objects.filter(waitpoint_id=token["id"]).values_list("action", flat=True)
    )
    assert actions.count("voted") == 2 and actions.count("completed") == 1


def test_one_rejection_vetoes(people, create_token, vote):
    token = create_token(approvals={"required": 2})
    vote(token, "anna")
    body = vote(token, "ben", "rejected", comment="no budget").json()
    assert body["status"] == "COMPLETED"
    assert body["output"]["approved"] is False and body["output"]["status"] == "rejected"
    assert [v["choice"] for v in body["output"]["votes"]] == ["approved", "rejected"]
    late = vote(token, "carl")
    assert late.status_code == 409 and late.json()["code"] == "already_finished"


def test_a_second_vote_by_the_same_person_is_refused(people, create_token, vote):
    token = create_token(approvals={"required": 2})
    assert vote(token, "anna").status_code == 200
    again = vote(token, "anna@example.com", "rejected")
    assert again.status_code == 409 and again.json()["code"] == "already_voted"
    assert WaitpointVote.objects.filter(waitpoint_id=token["id"]).count() == 1
    assert stored(token).status == "WAITING"


def test_an_unknown_choice_is_refused(people, create_token, vote):
    token = create_token(approvals={"required": 2})
    response = vote(token, "anna", "maybe")
    assert response.status_code == 422 and "choice" in response.json()["details"]
    assert not WaitpointVote.objects.filter(waitpoint_id=token["id"]).exists()


def test_custom_options_need_n_matching_votes_and_danger_vetoes(people, create_token, vote):
    response = {
        "options": [
            {"value": "ship", "style": "primary"},
            {"value": "hold"},
            {"value": "abort", "style": "danger"},
        ]
    }
    token = create_token(response=response, approvals={"required": 2})
    vote(token, "anna", "ship")
    assert vote(token, "ben", "hold").json()["status"] == "WAITING"
    body = vote(token, "carl", "ship").json()
    assert body["status"] == "COMPLETED" and body["output"]["choice"] == "ship"
    vetoed = create_token(response=response, approvals={"required": 3})
    assert vote(vetoed, "anna", "abort").json()["output"]["choice"] == "abort"


def test_the_token_json_shows_the_policy(people, create_token, api):
    token = create_token(
        reviewers={"users": ["anna"], "groups": ["finance"]},
        requestedBy="dora",
        approvals={"required": 2},
    )
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["reviewers"] == {"users": ["anna"], "groups": ["finance"]}
    assert body["requestedBy"] == "dora"
    assert body["approvals"] == {"required": 2} and body["votes"] == []
    trigger = api.get(f"{TOKENS}/{token['id']}", HTTP_X_TRIGGER_API_VERSION="2024-01-01").json()
    assert not {"reviewers", "requestedBy", "approvals", "votes"} & set(trigger)


def test_a_token_without_a_policy_behaves_as_before(create_token, api):
    token = create_token()
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["reviewers"] is None and body["requestedBy"] is None and body["votes"] == []
    assert (
        api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"ok": 1}}, format="json").status_code
        == 200
    )
    assert stored(token).output == {"ok": 1}


def test_timeout_with_partial_votes_keeps_them_in_the_audit(people, create_token, vote):
    from datetime import timedelta

    from waitpoints.tokens.services.expiry import waitpoints_sweep_due

    token = create_token(approvals={"required": 2}, timeout="1h")
    vote(token, "anna", comment="ok by me")
    waitpoints_sweep_due(now=stored(token).timeout_at + timedelta(seconds=1))
    assert stored(token).status == "TIMED_OUT"
    voted = AuditEvent.objects.get(waitpoint_id=token["id"], action="voted")
    assert voted.actor == "anna" and voted.data["comment"] == "ok by me"
    assert WaitpointVote.objects.filter(waitpoint_id=token["id"]).count() == 1


def test_only_the_secret_key_votes_for_people(people, create_token, vote, anonymous_api):
    token = create_token(approvals={"required": 2})
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['publicAccessToken']}")
    assert vote(token, "anna", client=anonymous_api).status_code == 403
    assert not WaitpointVote.objects.exists()
    long_name = vote(token, "a" * 321)
    assert long_name.status_code == 422 and "reviewer" in long_name.json()["details"]


def test_a_vote_on_an_overdue_token_times_it_out_and_is_refused(people, create_token, vote):
    from datetime import timedelta

    from django.utils import timezone

    from waitpoints.models import Waitpoint

    token = create_token(approvals={"required": 2})
    Waitpoint.objects.filter(id=token["id"]).update(
        timeout_at=timezone.now() - timedelta(seconds=1)
    )
    late = vote(token, "anna")
    assert late.status_code == 409 and late.json()["code"] == "already_finished"
    assert stored(token).status == "TIMED_OUT"  # the check's timeout committed
    assert not WaitpointVote.objects.exists()
