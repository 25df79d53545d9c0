"""Every error body is `{"error", "code", "details"?}`: each code produced by a real request, with
its one status (`ErrorCode.status`), and nothing else in the body."""

from datetime import timedelta

import pytest
from django.db import OperationalError

from tests.helpers import TOKENS, path_of, post_raw
from waitpoints.environments.services import api_key_create, api_key_revoke
from waitpoints.errors import ErrorCode
from waitpoints.models import Waitpoint
from waitpoints.tokens import public_access

pytestmark = pytest.mark.django_db


def assert_error(response, code: ErrorCode, *, details: bool = False) -> dict:
    body = response.json()
    assert response.status_code == code.status, response.content
    assert body["code"] == code.value, body
    assert set(body) == ({"error", "code", "details"} if details else {"error", "code"}), body
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_every_code_has_one_status_and_a_stable_snake_case_value():
    assert {code.value for code in ErrorCode} == {
        "malformed_json",
        "invalid_approval_link",
        "authentication_required",
        "malformed_authorization",
        "invalid_api_key",
        "api_key_revoked",
        "invalid_public_access_token",
        "public_access_token_expired",
        "invalid_callback_hash",
        "permission_denied",
        "not_found",
        "endpoint_not_found",
        "method_not_allowed",
        "not_acceptable",
        "approval_link_expired",
        "length_required",
        "payload_too_large",
        "already_finished",
        "already_voted",
        "not_a_reviewer",
        "invalid_input",
        "rate_limited",
        "internal_error",
        "database_unavailable",
    }
    assert all(400 <= code.status <= 599 for code in ErrorCode)


def test_400_malformed_json(api):
    assert_error(post_raw(api, TOKENS, b"{not json"), ErrorCode.MALFORMED_JSON)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, ErrorCode.AUTHENTICATION_REQUIRED),
        ("Basic dXNlcjpwYXNz", ErrorCode.MALFORMED_AUTHORIZATION),
        ("Bearer a b", ErrorCode.MALFORMED_AUTHORIZATION),
        ("Bearer wp_prod_wrong", ErrorCode.INVALID_API_KEY),
        ("Bearer not-a-jwt", ErrorCode.INVALID_PUBLIC_ACCESS_TOKEN),
    ],
)
def test_401_for_each_kind_of_bad_credential(anonymous_api, environment, header, code):
    if header is not None:
        anonymous_api.credentials(HTTP_AUTHORIZATION=header)
    response = anonymous_api.get(TOKENS)
    assert_error(response, code)
    assert response["WWW-Authenticate"] == "Bearer"


def test_401_revoked_key(anonymous_api, environment):
    issued = api_key_create(environment=environment)
    api_key_revoke(api_key=issued.api_key)
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert_error(anonymous_api.get(TOKENS), ErrorCode.API_KEY_REVOKED)


def test_401_expired_public_access_token(create_token, anonymous_api, monkeypatch):
    token = create_token()
    monkeypatch.setattr(public_access, "LIFETIME", timedelta(seconds=-5))
    expired = public_access.issue(Waitpoint.objects.get(id=token["id"]))
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    response = anonymous_api.post(f"{TOKENS}/{token['id']}/complete", {}, format="json")
    assert_error(response, ErrorCode.PUBLIC_ACCESS_TOKEN_EXPIRED)


def test_401_wrong_callback_hash(create_token, anonymous_api):
    token = create_token()
    wrong = path_of(token["url"]).rsplit("/", 1)[0] + "/" + "0" * 64
    response = anonymous_api.post(wrong, {"a": 1}, format="json")
    assert_error(response, ErrorCode.INVALID_CALLBACK_HASH)


def test_403_public_access_token_outside_its_scope(create_token, anonymous_api):
    mine, other = create_token(), create_token()
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {mine['publicAccessToken']}")
    assert_error(anonymous_api.get(TOKENS), ErrorCode.PERMISSION_DENIED)
    response = anonymous_api.post(f"{TOKENS}/{other['id']}/complete", {}, format="json")
    assert_error(response, ErrorCode.PERMISSION_DENIED)


def test_404_unknown_token_and_run(api):
    assert_error(api.get(f"{TOKENS}/waitpoint_unknown"), ErrorCode.NOT_FOUND)
    assert_error(api.get("/api/v1/runs/run_unknown"), ErrorCode.NOT_FOUND)


def test_404_unknown_endpoint(api):
    assert_error(api.get("/api/v1/nothing/here"), ErrorCode.ENDPOINT_NOT_FOUND)


def test_405_wrong_method(api):
    response = api.delete(TOKENS)
    assert_error(response, ErrorCode.METHOD_NOT_ALLOWED)
    assert "DELETE" not in response["Allow"]


def test_406_unacceptable_accept_header(api):
    assert_error(api.get(TOKENS, HTTP_ACCEPT="application/xml"), ErrorCode.NOT_ACCEPTABLE)


def test_411_chunked_body_without_length(api):
    response = api.generic(
        "POST", TOKENS, b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert_error(response, ErrorCode.LENGTH_REQUIRED)


def test_413_body_over_the_limit(api):
    response = api.post(TOKENS, {"context": "x" * (64 * 1024)}, format="json")
    assert_error(response, ErrorCode.PAYLOAD_TOO_LARGE)


def test_422_details_name_each_field(api):
    response = api.post(TOKENS, {"timeout": "soon", "tags": 5}, format="json")
    body = assert_error(response, ErrorCode.INVALID_INPUT, details=True)
    assert set(body["details"]) == {"timeout", "tags"}


def test_422_list_filters_name_the_query_parameter(api):
    response = api.get(TOKENS, {"filter[createdAt][period]": "forever", "page[size]": "0"})
    body = assert_error(response, ErrorCode.INVALID_INPUT, details=True)
    assert set(body["details"]) == {"filter[createdAt][period]", "page[size]"}


def test_422_body_not_an_object(api, create_token):
    token = create_token()
    response = post_raw(api, f"{TOKENS}/{token['id']}/complete", b'["not an object"]')
    body = assert_error(response, ErrorCode.INVALID_INPUT, details=True)
    assert body["details"] == {"body": "must be a JSON object"}


def test_422_from_the_request_serializer(api):
    response = api.post(TOKENS, {"title": 5}, format="json")
    body = assert_error(response, ErrorCode.INVALID_INPUT, details=True)
    assert set(body["details"]) == {"title"}


def test_500_unexpected_error(api, monkeypatch):
    from waitpoints.tokens import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "token_get", broken)
    api.raise_request_exception = False
    response = api.get(f"{TOKENS}/waitpoint_x", HTTP_X_REQUEST_ID="req-1")
    assert "req-1" in assert_error(response, ErrorCode.INTERNAL_ERROR)["error"]


def test_503_database_unavailable(api, monkeypatch):
    from waitpoints.tokens import selectors

    def unreachable(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "token_get", unreachable)
    response = api.get(f"{TOKENS}/waitpoint_x")
    assert_error(response, ErrorCode.DATABASE_UNAVAILABLE)
    assert response["Retry-After"] == "1"
