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
