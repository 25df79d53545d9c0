"""One environment's key never sees, completes or lists another environment's tokens."""

import pytest

from tests.helpers import TOKENS
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus

pytestmark = pytest.mark.django_db


def test_another_environments_token_looks_exactly_like_an_unknown_one(api, other_api, create_token):
    theirs = create_token(other_api)
    for token_id in (theirs["id"], "waitpoint_doesnotexist"):
        read = api.get(f"{TOKENS}/{token_id}")
        complete = api.post(f"{TOKENS}/{token_id}/complete", {"data": 1}, format="json")
        message = {"error": f"Waitpoint token {token_id!r} not found", "code": "not_found"}
        assert (read.status_code, read.json()) == (404, message)
        assert (complete.status_code, complete.json()) == (404, message)
    assert Waitpoint.objects.get(id=theirs["id"]).status == WaitpointStatus.WAITING
    assert not AuditEvent.objects.filter(action="completed").exists()


def test_finished_token_of_another_environment_is_still_404(api, other_api, create_token):
    theirs = create_token(other_api)
    other_api.post(f"{TOKENS}/{theirs['id']}/complete", {"data": "theirs"}, format="json")
    assert api.post(f"{TOKENS}/{theirs['id']}/complete", {}, format="json").status_code == 404
    assert api.get(f"{TOKENS}/{theirs['id']}").status_code == 404
    assert Waitpoint.objects.get(id=theirs["id"]).output == "theirs"


def test_each_key_lists_only_its_environment(api, other_api, create_token):
    mine = {create_token()["id"] for _ in range(3)}
    theirs = {create_token(other_api)["id"] for _ in range(2)}
    assert {item["id"] for item in api.get(TOKENS).json()["data"]} == mine
    assert {item["id"] for item in other_api.get(TOKENS).json()["data"]} == theirs


def test_unknown_body_keys_are_ignored(api, create_token):
    token = create_token(timeout="1h", extra="ignored", isCached=True)
    assert token["isCached"] is False
    response = api.post(f"{TOKENS}/{token['id']}/complete", {"data": 1, "other": 2}, format="json")
    assert response.json() == {"success": True}
    assert Waitpoint.objects.get(id=token["id"]).output == 1
