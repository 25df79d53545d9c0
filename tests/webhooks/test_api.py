"""The webhook endpoints of the API: CRUD, validation, environments, the SSRF guard."""

import pytest

from tests.webhooks.conftest import WEBHOOKS
from waitpoints.models import WebhookDelivery, WebhookEndpoint
from waitpoints.webhooks import guard


def test_create_returns_the_secret_once(api, create_webhook, receiver):
    created = create_webhook(
        receiver.url, events=["waitpoint.completed", "run.failed"], description="ops"
    )
    assert created["id"].startswith("webhook_")
    assert created["secret"].startswith("whsec_")
    assert created["url"] == receiver.url
    assert created["events"] == ["waitpoint.completed", "run.failed"]
    assert created["description"] == "ops"
    assert created["enabled"] is True
    read = api.get(f"{WEBHOOKS}/{created['id']}").json()
    assert "secret" not in read
    assert read == {key: value for key, value in created.items() if key != "secret"}
    listed = api.get(WEBHOOKS).json()["data"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]


def test_patch_and_delete(api, create_webhook, receiver):
    created = create_webhook(receiver.url)
    path = f"{WEBHOOKS}/{created['id']}"
    response = api.patch(path, {"events": ["run.completed"], "enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["events"] == ["run.completed"]
    assert response.json()["enabled"] is False
    assert response.json()["disabledReason"] == "Disabled by a user"
    response = api.patch(path, {"enabled": True}, format="json")
    assert response.json()["enabled"] is True and response.json()["disabledReason"] == ""
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"url", "events"}),
        ({"url": 5, "events": ["waitpoint.completed"]}, {"url"}),
        ({"url": "ftp://example.com/x", "events": ["waitpoint.completed"]}, {"url"}),
        ({"url": "http://user:pw@example.com/", "events": ["waitpoint.completed"]}, {"url"}),
        ({"url": "http://127.0.0.1:1/x", "events": []}, {"events"}),
        ({"url": "http://127.0.0.1:1/x", "events": ["token.exploded"]}, {"events"}),
        ({"url": "http://127.0.0.1:1/x", "events": "waitpoint.completed"}, {"events"}),
        ({"url": "not a url", "events": ["nope"], "description": "x" * 501}, None),
    ],
)
def test_invalid_input_is_422_naming_fields(api, allow_private, body, fields):
    response = api.post(WEBHOOKS, body, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_input"
    details = response.json()["details"]
    if fields is None:
        assert {"url", "events", "description"} <= set(details)
    else:
        assert set(details) == fields
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
    ],
)
def test_private_urls_are_refused(api, url):
    response = api.post(WEBHOOKS, {"url": url, "events": ["run.failed"]}, format="json")
    assert response.status_code == 422, response.content
    assert "private" in response.json()["details"]["url"]
    assert not WebhookEndpoint.objects.exists()


def test_patch_to_a_private_url_is_refused(api, create_webhook, receiver, settings):
    created = create_webhook(receiver.url)
    settings.WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE = False
    response = api.patch(f"{WEBHOOKS}/{created['id']}", {"url": "http://10.0.0.1/"}, format="json")
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"url"}


def test_public_addresses_pass_the_guard():
    assert guard.is_public("93.184.215.14")
    assert guard.is_public("2606:4700:4700::1111")
    assert not guard.is_public("::ffff:10.0.0.1")


def test_another_environments_webhook_is_404(api, other_api, create_webhook, receiver):
    created = create_webhook(receiver.url)
    path = f"{WEBHOOKS}/{created['id']}"
    assert other_api.get(path).status_code == 404
    assert other_api.patch(path, {"enabled": False}, format="json").status_code == 404
    assert other_api.delete(path).status_code == 404
    assert other_api.get(f"{path}/deliveries").status_code == 404
    assert other_api.post(f"{path}/test").status_code == 404
    assert other_api.get(WEBHOOKS).json() == {"data": []}
    assert api.get(path).status_code == 200


def test_unauthenticated_is_401(anonymous_api):
    assert anonymous_api.get(WEBHOOKS).status_code == 401


def test_test_event_is_queued_and_listed(api, create_webhook, receiver):
    created = create_webhook(receiver.url)
    response = api.post(f"{WEBHOOKS}/{created['id']}/test")
    assert response.status_code == 202, response.content
    delivery = response.json()
    assert delivery["event"] == "webhook.test"
    assert delivery["status"] == "PENDING"
    assert delivery["id"].startswith("msg_")
    listed = api.get(f"{WEBHOOKS}/{created['id']}/deliveries").json()["data"]
    assert [item["id"] for item in listed] == [delivery["id"]]
    assert set(listed[0]) >= {"event", "statusCode", "attempts", "nextRetryAt", "lastError"}
    assert WebhookDelivery.objects.get().body  # a test event's body is fixed at once


def test_deliveries_page_size_is_validated(api, create_webhook, receiver):
    created = create_webhook(receiver.url)
    response = api.get(f"{WEBHOOKS}/{created['id']}/deliveries?page[size]=0")
    assert response.status_code == 422
    assert set(response.json()["details"]) == {"page[size]"}
