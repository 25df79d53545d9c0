"""Cross-cutting HTTP behaviour: CORS only on the complete endpoint, X-Request-ID everywhere."""

import re

import pytest
from django.test import Client

from tests.helpers import TOKENS, path_of

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.com"


def test_cors_preflight_is_allowed_on_the_complete_endpoint(create_token):
    token = create_token()
    response = Client().options(
        f"{TOKENS}/{token['id']}/complete",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] in ("*", ORIGIN)
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_cors_headers_on_a_browser_completion_with_a_public_token(create_token, anonymous_api):
    token = create_token()
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['publicAccessToken']}")
    response = anonymous_api.post(
        f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] in ("*", ORIGIN)


def test_no_cors_headers_on_any_other_endpoint(api, anonymous_api, create_token):
    token = create_token()
    responses = [
        api.get(TOKENS, HTTP_ORIGIN=ORIGIN),
        api.post(TOKENS, {}, format="json", HTTP_ORIGIN=ORIGIN),
        api.get(f"{TOKENS}/{token['id']}", HTTP_ORIGIN=ORIGIN),
        anonymous_api.post(path_of(create_token()["url"]), {}, format="json", HTTP_ORIGIN=ORIGIN),
        Client().options(TOKENS, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"),
        Client().get("/api/schema/", HTTP_ORIGIN=ORIGIN),
    ]
    for response in responses:
        assert "Access-Control-Allow-Origin" not in response, response.request["PATH_INFO"]


def test_every_response_carries_a_request_id(api, anonymous_api, create_token):
    token = create_token()
    responses = [
        api.get(TOKENS),
        api.post(TOKENS, {}, format="json"),
        api.get(f"{TOKENS}/{token['id']}"),
        api.post(f"{TOKENS}/{token['id']}/complete", {}, format="json"),
        anonymous_api.post(path_of(token["url"]), {}, format="json"),
        api.get(f"{TOKENS}/waitpoint_missing"),  # 404
        api.delete(TOKENS),  # 405
        api.post(TOKENS, b"{", content_type="application/json"),  # 400
        api.post(TOKENS, {"timeout": "x"}, format="json"),  # 422
        anonymous_api.get(TOKENS),  # 401
        api.get("/api/v1/unknown"),  # JSON 404 outside the views
        Client().get("/api/schema/"),
        Client().get("/api/docs/"),
        Client().get("/not-a-page/"),
    ]
    request_ids = [response["X-Request-ID"] for response in responses]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in request_ids)
    assert len(set(request_ids)) == len(request_ids)


def test_a_sane_incoming_request_id_is_echoed_and_an_unsafe_one_replaced(api):
    assert api.get(TOKENS, HTTP_X_REQUEST_ID="trace-42.a:b")["X-Request-ID"] == "trace-42.a:b"
    for unsafe in ("has space", "x" * 129, "new\nline", "<script>"):
        echoed = api.get(TOKENS, HTTP_X_REQUEST_ID=unsafe)["X-Request-ID"]
        assert echoed != unsafe and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_responses_are_json_and_browsable_api_stays_on(api, create_token):
    response = api.get(TOKENS)
    assert response["Content-Type"] == "application/json"
    html = api.get(TOKENS, HTTP_ACCEPT="text/html")
    assert html.status_code == 200
    assert html["Content-Type"].startswith("text/html")


def test_an_unexpected_error_is_a_json_500_with_the_request_id(api, monkeypatch):
    from waitpoints.tokens import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "token_get", broken)
    api.raise_request_exception = False
    response = api.get(f"{TOKENS}/waitpoint_x", HTTP_X_REQUEST_ID="req-500")
    assert response.status_code == 500
    assert response.json() == {
        "error": "Internal server error (request id req-500)",
        "code": "internal_error",
    }
    assert response["X-Request-ID"] == "req-500"
