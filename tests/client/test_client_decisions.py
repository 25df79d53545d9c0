"""The HTTP client and the SDK with response contracts, failures and extensions, alike."""

from datetime import UTC, datetime, timedelta

import pytest

from waitpoints import wait
from waitpoints.client import ApiError
from waitpoints.errors import AlreadyFinished, InvalidInput

RESPONSE = {"options": [{"value": "ship"}, {"value": "cancel"}], "multiple": True}


def test_client_creates_with_a_contract_and_a_timeout_output(client):
    created = client.create_token(response=RESPONSE, timeout_output={"choice": ["cancel"]})
    with pytest.raises(ApiError) as refused:
        client.complete_token(created, {"choice": "ship"})
    assert refused.value.status_code == 422 and "data.choice" in refused.value.details
    assert client.complete_token(created, {"choice": ["ship"]})
    token = client.retrieve_token(created)
    assert token.response == RESPONSE
    assert token.output == {"choice": ["ship"]} and token.resolution["via"] == "api"


def test_client_fails_and_extends(client):
    failing, extended = client.create_token(), client.create_token(timeout="1h")
    assert client.fail_token(failing, {"message": "nope", "name": "Refused"})
    token = client.retrieve_token(failing)
    assert (token.status, token.output_is_error) == ("COMPLETED", True)
    assert token.error == {"message": "nope", "name": "Refused"}
    assert token.resolution["via"] == "fail"
    moved = client.extend_token(extended, "5h")
    assert moved.timeout_at > datetime.now(UTC) + timedelta(hours=4)
    with pytest.raises(ApiError) as finished:
        client.extend_token(failing, "5h")
    assert (finished.value.status_code, finished.value.code) == (409, "already_finished")


@pytest.mark.django_db
def test_sdk_fails_and_extends(environment):
    failing = wait.create_token(environment=environment)
    extended = wait.create_token(timeout="1h", environment=environment)
    assert wait.fail_token(failing, {"message": "nope"}, environment=environment)
    assert not wait.fail_token(failing, {"message": "again"}, environment=environment)
    token = wait.retrieve_token(failing, environment=environment)
    assert token.error == {"message": "nope"} and token.resolution == {"via": "fail", "by": "sdk"}
    assert wait.extend_token(extended, "5h", environment=environment).timeout_at > (
        datetime.now(UTC) + timedelta(hours=4)
    )
    with pytest.raises(AlreadyFinished):
        wait.extend_token(failing, "5h", environment=environment)
    with pytest.raises(InvalidInput):
        wait.create_token(response={"options": "ship"}, environment=environment)


def test_client_creates_with_reviewers_and_votes_for_people(client, django_user_model):
    for name in ("anna", "ben"):
        django_user_model.objects.create_user(name)
    created = client.create_token(
        reviewers={"users": ["anna", "ben"]}, requested_by="ben", approvals={"required": 1}
    )
    with pytest.raises(ApiError) as refused:
        client.review_token(created, reviewer="ben", choice="approved")
    assert (refused.value.status_code, refused.value.code) == (403, "not_a_reviewer")
    body = client.review_token(created, reviewer="anna", choice="rejected", comment="no")
    assert body["status"] == "COMPLETED" and body["output"]["status"] == "rejected"
    assert [vote["reviewer"] for vote in body["votes"]] == ["anna"]


@pytest.mark.django_db
def test_sdk_creates_with_a_policy(environment, django_user_model):
    django_user_model.objects.create_user("anna")
    with pytest.raises(InvalidInput) as refused:
        wait.create_token(reviewers={"users": ["nobody"]}, environment=environment)
    assert "reviewers.users[0]" in refused.value.details
    created = wait.create_token(
        reviewers={"users": ["anna"]}, approvals={"required": 2}, environment=environment
    )
    from waitpoints.models import Waitpoint

    stored = Waitpoint.objects.get(id=created.id)
    assert stored.policy == {"reviewers": {"users": ["anna"]}, "approvals": 2}
