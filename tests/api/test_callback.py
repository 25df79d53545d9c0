"""The callback URL: the HMAC hash in the path is the only credential."""

import pytest

from tests.helpers import TOKENS, assert_unchanged, path_of, stored
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.tokens.callbacks import callback_hash

pytestmark = pytest.mark.django_db


def assert_completed_by_callback(token, output) -> None:
    """Stored as a callback completion with `output`, audited once."""
    waitpoint = stored(token)
    assert (waitpoint.status, waitpoint.output) == (WaitpointStatus.COMPLETED, output)
    assert (waitpoint.completed_via, waitpoint.completed_by) == ("callback", "callback")
    assert waitpoint.completed_at is not None
    event = AuditEvent.objects.get(waitpoint=waitpoint, action=AuditEvent.Action.COMPLETED)
    assert (event.via, event.actor) == ("callback", "callback")


def test_url_is_absolute_from_the_public_url_with_a_hex_hmac(api, settings, environment):
    settings.WAITPOINTS_PUBLIC_URL = "https://hooks.example.org/base"
    body = api.post(TOKENS, {}, format="json").json()
    prefix = f"https://hooks.example.org/base/api/v1/waitpoints/tokens/{body['id']}/callback/"
    assert body["url"].startswith(prefix)
    digest = body["url"][len(prefix) :]
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert api.get(f"{TOKENS}/{body['id']}").json()["url"] == body["url"]


@pytest.mark.parametrize(
    ("raw", "content_type", "output"),
    [
        (b"", "application/json", {}),
        (b"", "", {}),
        (b"not json at all", "text/plain", {}),
        (b"{broken", "application/json", {}),
        (b"\xff\xfe", "application/json", {}),
        (b"[" * 30_000 + b"]" * 30_000, "application/json", {}),
        (b'{"approved": true, "by": "bot"}', "application/json", {"approved": True, "by": "bot"}),
        (b'{"approved": true}', "application/x-www-form-urlencoded", {"approved": True}),
        (b"[1, 2]", "application/json", [1, 2]),
        (b'"text"', "application/json", "text"),
        (b"null", "application/json", None),
    ],
    ids=[
        "empty",
        "no-type",
        "text",
        "broken",
        "utf8",
        "deep",
        "object",
        "form-typed",
        "list",
        "string",
        "null",
    ],  # fmt: skip
)
def test_any_json_body_becomes_the_output_and_non_json_is_empty_object(
    create_token, anonymous_api, raw, content_type, output
):
    token = create_token()
    response = anonymous_api.generic("POST", path_of(token["url"]), raw, content_type=content_type)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    assert_completed_by_callback(token, output)


def test_body_jsonb_cannot_store_is_422(create_token, anonymous_api):
    token = create_token()
    for raw in (b'{"x": "\\u0000"}', b'{"x": 1e999}'):
        response = anonymous_api.generic(
            "POST", path_of(token["url"]), raw, content_type="application/json"
        )
        assert response.status_code == 422
        assert "data" in response.json()["details"]
    assert_unchanged(token)


def test_body_over_3_mib_is_413(create_token, anonymous_api):
    token = create_token()
    raw = b'"' + b"x" * (3 * 1024 * 1024) + b'"'
    response = anonymous_api.generic(
        "POST", path_of(token["url"]), raw, content_type="application/json"
    )
    assert response.status_code == 413
    assert_unchanged(token)


@pytest.mark.parametrize(
    "bad_hash",
    ["0" * 64, "f" * 64, "short", "%00", "x" * 128],
)
def test_wrong_hash_is_401_and_changes_nothing(create_token, anonymous_api, bad_hash):
    token = create_token()
    response = anonymous_api.post(
        f"{TOKENS}/{token['id']}/callback/{bad_hash}", {"a": 1}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": "Invalid callback URL hash",
        "code": "invalid_callback_hash",
    }
    assert_unchanged(token)


def test_hash_of_one_token_does_not_complete_another(create_token, anonymous_api):
    first, second = create_token(), create_token()
    first_hash = first["url"].rsplit("/", 1)[1]
    response = anonymous_api.post(
        f"{TOKENS}/{second['id']}/callback/{first_hash}", {}, format="json"
    )
    assert response.status_code == 401
    assert_unchanged(second)
    assert_unchanged(first)


def test_valid_hash_of_another_environment_cannot_complete(
    create_token, other_api, anonymous_api, environment, other_environment
):
    mine = create_token()
    theirs = create_token(other_api)
    # Their hash on my id, and my id's HMAC under their environment's secret.
    their_hash = theirs["url"].rsplit("/", 1)[1]
    my_waitpoint = stored(mine)
    my_waitpoint.environment = other_environment
    forged = callback_hash(my_waitpoint)
    for digest in (their_hash, forged):
        response = anonymous_api.post(f"{TOKENS}/{mine['id']}/callback/{digest}", {}, format="json")
        assert response.status_code == 401
    assert_unchanged(mine)
    assert_unchanged(theirs)


def test_unknown_id_is_401_like_a_wrong_hash(anonymous_api, create_token):
    token = create_token()
    digest = token["url"].rsplit("/", 1)[1]
    response = anonymous_api.post(f"{TOKENS}/waitpoint_nope/callback/{digest}", {}, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "error": "Invalid callback URL hash",
        "code": "invalid_callback_hash",
    }
    assert_unchanged(token)


def test_callback_ignores_credentials(create_token, anonymous_api):
    token = create_token()
    anonymous_api.credentials(HTTP_AUTHORIZATION="Bearer wp_prod_garbage")
    response = anonymous_api.post(path_of(token["url"]), {"ok": 1}, format="json")
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert_completed_by_callback(token, {"ok": 1})


def test_second_callback_is_a_no_op(create_token, anonymous_api):
    token = create_token()
    anonymous_api.post(path_of(token["url"]), {"n": 1}, format="json")
    response = anonymous_api.post(path_of(token["url"]), {"n": 2}, format="json")
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert_completed_by_callback(token, {"n": 1})  # the first output, audited once


def test_callback_after_the_deadline_cannot_win(create_token, anonymous_api, api):
    token = create_token()
    from django.utils import timezone

    Waitpoint.objects.filter(id=token["id"]).update(timeout_at=timezone.now())
    response = anonymous_api.post(path_of(token["url"]), {"late": True}, format="json")
    assert response.json() == {"success": True}
    waitpoint = stored(token)
    assert (waitpoint.status, waitpoint.output) == (WaitpointStatus.TIMED_OUT, None)
    assert api.get(f"{TOKENS}/{token['id']}").json()["outputIsError"] is True


def test_trailing_slash_works(create_token, anonymous_api):
    token = create_token()
    response = anonymous_api.post(path_of(token["url"]) + "/", {"slash": True}, format="json")
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert_completed_by_callback(token, {"slash": True})
