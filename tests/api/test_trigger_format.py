"""Trigger.dev's wire format, chosen by the headers its SDK sends; ours stays the default.

tests/trigger_sdk drives the real SDK; these pin the shapes of both formats in-process.
"""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.helpers import TOKENS
from waitpoints.models import Waitpoint

pytestmark = pytest.mark.django_db

SDK_HEADERS = {"HTTP_X_TRIGGER_API_VERSION": "2025-07-16", "HTTP_TRIGGER_VERSION": "4.8.3"}
TOKEN_KEYS = {"id", "url", "status", "timeoutAt", "tags", "createdAt", "title"}


def finish(api, token_id, data):
    response = api.post(f"{TOKENS}/{token_id}/complete", {"data": data}, format="json")
    assert response.status_code == 200, response.content


def test_create_sends_the_public_access_token_in_x_trigger_jwt_too(api):
    response = api.post(TOKENS, {}, format="json")
    assert response.status_code == 200
    assert response["x-trigger-jwt"] == response.json()["publicAccessToken"]


def test_our_format_is_the_default_every_key_with_json_values(api, create_token):
    token = create_token()
    finish(api, token["id"], {"approved": True})
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["idempotencyKey"] is None and body["idempotencyKeyExpiresAt"] is None
    assert (body["output"], body["outputType"], body["error"]) == (
        {"approved": True},
        "application/json",
        None,
    )
    waiting = api.get(f"{TOKENS}/{create_token()['id']}").json()
    assert waiting["completedAt"] is None and waiting["output"] is None


@pytest.mark.parametrize("header", ["HTTP_X_TRIGGER_API_VERSION", "HTTP_TRIGGER_VERSION"])
def test_either_sdk_header_selects_trigger_format(api, create_token, header):
    token = create_token()
    body = api.get(f"{TOKENS}/{token['id']}", **{header: "1"}).json()
    assert set(body) == TOKEN_KEYS | {"outputIsError"}
    assert body["outputIsError"] is False


@pytest.mark.parametrize(
    "output", [{"approved": True, "n": [1, 2.5]}, "plain text", None, "", 0, ["é", "\u2028"]]
)
def test_trigger_format_sends_the_output_as_json_text(api, create_token, output):
    token = create_token(idempotencyKey="k-1")
    finish(api, token["id"], output)
    body = api.get(f"{TOKENS}/{token['id']}", **SDK_HEADERS).json()
    assert body["status"] == "COMPLETED"
    assert json.loads(body["output"]) == output
    assert body["outputType"] == "application/json" and body["outputIsError"] is False
    assert body["idempotencyKey"] == "k-1" and body["idempotencyKeyExpiresAt"]
    assert body["completedAt"] and "error" not in body


def test_trigger_format_of_a_timed_out_token(api, create_token):
    token = create_token()
    Waitpoint.objects.filter(id=token["id"]).update(timeout_at=timezone.now() - timedelta(1))
    body = api.get(f"{TOKENS}/{token['id']}", **SDK_HEADERS).json()
    assert (body["status"], body["outputIsError"]) == ("TIMED_OUT", True)
    error = json.loads(body["output"])
    assert error["name"] == "WaitpointTimeoutError"
    assert error["message"].startswith("Waitpoint timed out at ")
    assert "error" not in body


def test_trigger_format_of_a_list(api, create_token):
    waiting = create_token(tags=["fmt"])
    done = create_token(tags=["fmt"], idempotencyKey="k-2")
    finish(api, done["id"], "yes")
    response = api.get(TOKENS, {"filter[tags]": "fmt", "page[size]": 1}, **SDK_HEADERS)
    body = response.json()
    finished_keys = {"completedAt", "idempotencyKey", "idempotencyKeyExpiresAt", "resolution"}
    assert set(body["data"][0]) == TOKEN_KEYS | finished_keys
    assert "output" not in body["data"][0]  # a list never carries outputs, as Trigger.dev's
    page = api.get(
        TOKENS, {"filter[tags]": "fmt", "page[after]": body["pagination"]["next"]}, **SDK_HEADERS
    ).json()
    assert [item["id"] for item in page["data"]] == [waiting["id"]]
    assert set(page["data"][0]) == TOKEN_KEYS
    # Ours, without the headers: every key, nulls included.
    ours = api.get(TOKENS, {"filter[tags]": "fmt"}).json()["data"]
    assert ours[1]["completedAt"] is None and ours[1]["idempotencyKey"] is None


def test_answers_vary_on_the_format_headers(api, create_token):
    token = create_token()
    for response in (api.get(TOKENS), api.get(f"{TOKENS}/{token['id']}")):
        vary = {name.strip().lower() for name in response["Vary"].split(",")}
        assert {"x-trigger-api-version", "trigger-version", "authorization"} <= vary


def test_cors_preflight_allows_the_headers_trigger_dev_sdk_sends(create_token):
    # What @trigger.dev/sdk 4.8.3 sent from a "browser" (tests/trigger_sdk prints its list).
    sent = [
        "authorization",
        "content-type",
        "trigger-version",
        "x-trigger-api-version",
        "x-trigger-client",
        "x-trigger-realtime-streams-version",
        "x-trigger-request-idempotency-key",
        "x-trigger-source",
    ]
    response = Client().options(
        f"{TOKENS}/{create_token()['id']}/complete",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=", ".join(sent),
    )
    assert response.status_code == 200
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert set(sent) <= allowed


def test_the_schema_describes_both_formats_and_the_headers():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    assert [
        ref["$ref"].rsplit("/", 1)[1] for ref in components["TokenDetailAnyFormat"]["anyOf"]
    ] == [
        "TokenDetail",
        "TriggerTokenDetail",
    ]
    assert components["TriggerTokenDetail"]["properties"]["output"]["type"] == "string"
    assert "completedAt" not in components["TriggerTokenDetail"]["required"]
    tokens = schema["paths"]["/api/v1/waitpoints/tokens"]
    for operation in (
        tokens["get"],
        schema["paths"]["/api/v1/waitpoints/tokens/{token_id}"]["get"],
    ):
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"x-trigger-api-version", "trigger-version"}
    assert "x-trigger-jwt" in tokens["post"]["responses"]["200"]["headers"]
