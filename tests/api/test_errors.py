"""Every documented error status with a message naming the problem, and hostile input.

Hostile bodies (NUL characters, NaN, deep nesting, invalid UTF-8, huge numbers) must be a
400 or 422 with the usual JSON shape, never a 500, and must change nothing.
"""

import json

import pytest

from tests.helpers import TOKENS, path_of, post_raw
from waitpoints.environments.services import api_key_create, api_key_revoke
from waitpoints.models import Waitpoint, WaitpointStatus
from waitpoints.tokens.services.create import sleep_create

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


# --- 400: a body that is not JSON ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"timeout": "1h"', "not valid JSON"),
        (b'{"data": NaN}', "NaN"),
        (b'{"data": Infinity}', "Infinity"),
        (b'{"data": -Infinity}', "Infinity"),
        (b'{"title": "\xff\xfe"}', "UTF-8"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"data": ' + b"1" * 5000 + b"}", "not valid JSON"),
    ],
    ids=["garbage", "truncated", "nan", "infinity", "minus-infinity", "utf8", "nesting", "digits"],
)
def test_body_that_is_not_json_is_400_naming_the_problem(api, create_token, body, phrase):
    for path in (TOKENS, f"{TOKENS}/{create_token()['id']}/complete"):
        response = post_raw(api, path, body)
        assert response.status_code == 400, (path, response.content)
        assert phrase in response.json()["error"]
    assert not Waitpoint.objects.exclude(status=WaitpointStatus.WAITING).exists()


def test_body_that_is_json_but_not_an_object_is_422(api, create_token):
    token = create_token()
    for path in (TOKENS, f"{TOKENS}/{token['id']}/complete"):
        response = post_raw(api, path, b'["a list"]')
        assert response.status_code == 422
        assert response.json()["details"] == {"body": "must be a JSON object"}
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


# --- 401 / 403 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "phrase"),
    [
        (None, "Missing Authorization header"),
        ("Bearer", "Malformed Authorization header"),
        ("Basic dXNlcjpwYXNz", "Malformed Authorization header"),
        ("Bearer a b", "Malformed Authorization header"),
        ("Bearer wp_prod_wrong", "Invalid API key"),
        ("Bearer not-a-jwt", "Invalid public access token"),
    ],
)
def test_missing_or_bad_credentials_are_401(anonymous_api, environment, header, phrase):
    if header is not None:
        anonymous_api.credentials(HTTP_AUTHORIZATION=header)
    for method, path in (("get", TOKENS), ("post", TOKENS), ("get", f"{TOKENS}/waitpoint_x")):
        response = getattr(anonymous_api, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path, response.content)
        assert phrase in response.json()["error"]
        assert response["WWW-Authenticate"] == "Bearer"
    assert Waitpoint.objects.count() == 0


def test_revoked_key_is_401(environment):
    from rest_framework.test import APIClient

    issued = api_key_create(environment=environment)
    api_key_revoke(api_key=issued.api_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    response = client.get(TOKENS)
    assert response.status_code == 401
    assert response.json() == {"error": "API key has been revoked", "code": "api_key_revoked"}


# --- 404 / 405 -------------------------------------------------------------------------------------


def test_unknown_ids_are_404_naming_the_id(api):
    for response in (
        api.get(f"{TOKENS}/waitpoint_unknown"),
        api.post(f"{TOKENS}/waitpoint_unknown/complete", {"data": 1}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": "Waitpoint token 'waitpoint_unknown' not found",
            "code": "not_found",
        }


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "error": "No API endpoint at /api/v1/nothing/here",
        "code": "endpoint_not_found",
    }


def test_a_durable_sleep_is_not_a_token(api, environment):
    from django.utils import timezone

    sleep = sleep_create(environment=environment, until=timezone.now())
    assert api.get(f"{TOKENS}/{sleep.id}").status_code == 404
    assert api.post(f"{TOKENS}/{sleep.id}/complete", {}, format="json").status_code == 404
    assert api.get(TOKENS).json()["data"] == []


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("delete", ""),
        ("put", ""),
        ("patch", ""),
        ("post", "/{id}"),
        ("delete", "/{id}"),
        ("get", "/{id}/complete"),
        ("put", "/{id}/complete"),
    ],
)
def test_wrong_method_is_405_naming_the_method(api, create_token, method, suffix):
    token = create_token()
    response = getattr(api, method)(TOKENS + suffix.format(id=token["id"]), {}, format="json")
    assert response.status_code == 405
    assert response.json() == {
        "error": f'Method "{method.upper()}" not allowed.',
        "code": "method_not_allowed",
    }
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


def test_get_on_callback_url_is_405(api, anonymous_api, create_token):
    token = create_token()
    response = anonymous_api.get(path_of(token["url"]))
    assert response.status_code == 405
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


# --- 413 --------------------------------------------------------------------------------------------


def test_create_body_over_64_kib_is_413(api):
    response = api.post(TOKENS, {"context": "x" * (64 * 1024)}, format="json")
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error"]
    assert Waitpoint.objects.count() == 0


def test_complete_body_up_to_3_mib_is_accepted(api, create_token):
    token = create_token()
    data = "x" * (3 * MiB - 100)
    response = api.post(f"{TOKENS}/{token['id']}/complete", {"data": data}, format="json")
    assert response.status_code == 200, response.content[:200]
    assert Waitpoint.objects.get(id=token["id"]).output == data


def test_complete_body_over_3_mib_is_413_and_changes_nothing(api, create_token):
    token = create_token()
    response = api.post(
        f"{TOKENS}/{token['id']}/complete", {"data": "x" * (3 * MiB)}, format="json"
    )
    assert response.status_code == 413
    assert f"{3 * MiB} bytes" in response.json()["error"]
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


# --- 422: present but invalid, `details` names the field -------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": "0s"}, "timeout"),
        ({"timeout": "2001-01-01T00:00:00Z"}, "timeout"),
        ({"timeout": "9999-01-01"}, "timeout"),
        ({"timeout": "1" * 5000 + "s"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": ["1h"]}, "timeout"),
        ({"timeout": "1h\u0000"}, "timeout"),
        ({"idempotencyKey": ""}, "idempotencyKey"),
        ({"idempotencyKey": "k" * 2049}, "idempotencyKey"),
        ({"idempotencyKey": "a\u0000b"}, "idempotencyKey"),
        ({"idempotencyKey": {"a": 1}}, "idempotencyKey"),
        ({"idempotencyKey": "k", "idempotencyKeyTTL": "1x"}, "idempotencyKeyTTL"),
        ({"idempotencyKey": "k", "idempotencyKeyTTL": "9" * 5000 + "h"}, "idempotencyKeyTTL"),
        ({"idempotencyKeyTTL": "forever"}, "idempotencyKeyTTL"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": ["x" * 128]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["ok", 5]}, "tags"),
        ({"tags": ["nul\u0000"]}, "tags"),
        ({"tags": {"a": 1}}, "tags"),
        ({"title": "t" * 201}, "title"),
        ({"title": "\u0000"}, "title"),
        ({"context": {"note": "nul \u0000 inside"}}, "context"),
        ({"context": {"\u0000": 1}}, "context"),
    ],
)
def test_invalid_create_fields_are_422_naming_the_field(api, body, field):
    response = api.post(TOKENS, body, format="json")
    assert response.status_code == 422, response.content
    assert field in response.json()["details"], response.json()
    assert field in response.json()["error"]
    assert Waitpoint.objects.count() == 0


def test_create_context_with_out_of_range_number_is_422(api):
    response = post_raw(api, TOKENS, b'{"context": {"big": 1e999}}')
    assert response.status_code == 422, response.content
    assert "context" in response.json()["details"]
    assert Waitpoint.objects.count() == 0


def test_every_bad_field_is_named_at_once(api):
    response = api.post(TOKENS, {"timeout": "x", "tags": 5, "title": "t" * 300}, format="json")
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"timeout", "tags", "title"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": {"text": "nul \\u0000 inside"}}',
        b'{"data": {"\\u0000": true}}',
        b'{"data": 1e999}',
        b'{"data": [-1e400]}',
    ],
    ids=["nul-value", "nul-key", "overflow", "negative-overflow"],
)
def test_complete_with_data_jsonb_cannot_store_is_422_naming_data(api, create_token, raw):
    token = create_token()
    response = post_raw(api, f"{TOKENS}/{token['id']}/complete", raw)
    assert response.status_code == 422, response.content
    assert "data" in response.json()["details"]
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


def test_deep_but_parseable_nesting_never_500s(api, create_token):
    """Depths just under the parser's limit must fail cleanly or round-trip, never crash."""
    for depth in (100, 500, 900, 950, 980, 990, 995, 999, 1500, 5000):
        token = create_token()
        raw = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
        response = post_raw(api, f"{TOKENS}/{token['id']}/complete", raw)
        assert response.status_code in (200, 400, 422), (depth, response.content[:300])
        read = api.get(f"{TOKENS}/{token['id']}")
        assert read.status_code == 200, (depth, read.content[:300])
        if response.status_code == 200:
            assert json.dumps(read.json()["output"]).count("[") == depth
        else:
            assert read.json()["status"] == "WAITING"
        created = post_raw(api, TOKENS, b'{"context": ' + b"[" * depth + b"]" * depth + b"}")
        assert created.status_code in (200, 400, 422), (depth, created.content[:300])


def test_huge_exact_numbers_round_trip(api, create_token):
    token = create_token()
    data = {"big": 10**300, "small": -(10**300), "precise": 0.1}
    response = api.post(f"{TOKENS}/{token['id']}/complete", {"data": data}, format="json")
    assert response.status_code == 200
    assert api.get(f"{TOKENS}/{token['id']}").json()["output"] == data


def test_unicode_and_control_characters_other_than_nul_are_kept(api, create_token):
    token = create_token(title="Ünïcødé ✓ \u2028", tags=["ταγ", "🏷️"], idempotencyKey="ключ\t1")
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["title"] == "Ünïcødé ✓ \u2028"
    assert body["tags"] == ["ταγ", "🏷️"]
    assert body["idempotencyKey"] == "ключ\t1"


def test_timeout_date_with_an_offset_postgres_rejects_is_stored_in_utc(api):
    response = api.post(TOKENS, {"timeout": "2030-01-01T00:00:00-23:59"}, format="json")
    assert response.status_code == 200, response.content
    stored = Waitpoint.objects.get(id=response.json()["id"])
    assert stored.timeout_at.isoformat() == "2030-01-01T23:59:00+00:00"
    body = api.get(f"{TOKENS}/{stored.id}").json()
    assert body["timeoutAt"] == "2030-01-01T23:59:00Z"
