"""Recording events with completions, and delivering them to a real receiver on loopback.

Attempts are made by calling the delivery function directly, with a clock the test moves, so
retries are exercised without waiting (the worker tests run them for real)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.helpers import TOKENS
from tests.webhooks.conftest import WEBHOOKS
from waitpoints import webhooks
from waitpoints.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from waitpoints.presenters import webhook_event_data
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.webhooks.delivery import DISABLE_AFTER, webhook_deliver, webhooks_send_due


def deliver(delivery: WebhookDelivery | str, now=None):
    delivery_id = getattr(delivery, "id", delivery)
    return webhook_deliver(delivery_id=delivery_id, render=webhook_event_data, now=now)


def complete(api, token_id, data=None):
    response = api.post(f"{TOKENS}/{token_id}/complete", {"data": data}, format="json")
    assert response.status_code == 200, response.content


def test_completion_is_delivered_signed(api, create_token, create_webhook, receiver):
    hook = create_webhook(receiver.url)
    token = create_token(tags=["t1"], title="Approve")
    complete(api, token["id"], {"approved": True})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.subject_id) == ("waitpoint.completed", token["id"])
    assert deliver(delivery) == WebhookDeliveryStatus.SUCCEEDED
    [request] = receiver.requests
    # Any Standard Webhooks library verifies it; so does our helper.
    payload = Webhook(hook["secret"]).verify(request.body, request.headers)
    assert webhooks.verify(request.body, request.headers, hook["secret"]) == payload
    assert request.headers["webhook-id"] == delivery.id
    assert payload["type"] == "waitpoint.completed"
    assert payload["timestamp"].endswith("Z")
    # The token as GET /waitpoints/tokens/{id} returns it.
    assert payload["data"] == api.get(f"{TOKENS}/{token['id']}").json()
    assert payload["data"]["output"] == {"approved": True}
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(request.body + b" ", request.headers, hook["secret"])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("SUCCEEDED", 1, 200)


def test_500_twice_then_200_is_three_attempts_with_one_webhook_id(
    api, create_token, create_webhook, receiver
):
    hook = create_webhook(receiver.url)
    receiver.answers = [500, 500]
    complete(api, create_token()["id"])
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()
    assert deliver(delivery, now=start) == WebhookDeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(seconds=5)  # the default schedule
    assert delivery.last_status_code == 500 and "HTTP 500" in delivery.last_error
    assert deliver(delivery, now=start + timedelta(seconds=4)) is None  # not due yet
    # Due again: beat's scan sends it (once: a message is outstanding afterwards).
    assert webhooks_send_due(now=start + timedelta(seconds=5)) == 1
    assert webhooks_send_due(now=start + timedelta(seconds=6)) == 0
    assert deliver(delivery, now=start + timedelta(seconds=5)) == WebhookDeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(seconds=305)
    listed = api.get(f"{WEBHOOKS}/{hook['id']}/deliveries").json()["data"][0]
    assert listed["attempts"] == 2 and listed["statusCode"] == 500 and listed["nextRetryAt"]
    third = start + timedelta(seconds=305)
    assert deliver(delivery, now=third) == WebhookDeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {delivery.id}
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes every time
    for request in receiver.requests:
        Webhook(hook["secret"]).verify(request.body, request.headers)
    listed = api.get(f"{WEBHOOKS}/{hook['id']}/deliveries").json()["data"][0]
    assert (listed["status"], listed["attempts"], listed["statusCode"]) == ("SUCCEEDED", 3, 200)
    assert listed["nextRetryAt"] is None and listed["lastError"] == ""
    assert WebhookEndpoint.objects.get().failing_since is None


def test_retries_end_and_an_endpoint_failing_for_3_days_is_disabled(
    api, create_token, create_webhook, receiver, settings
):
    settings.WAITPOINTS_WEBHOOKS_RETRY_SCHEDULE = [60.0, 2 * 86400.0]
    hook = create_webhook(receiver.url)
    receiver.answers = [503] * 10
    for _ in range(2):
        complete(api, create_token()["id"])
    first, second = WebhookDelivery.objects.order_by("created_at")
    start = timezone.now()
    assert deliver(first, now=start) == "PENDING"
    assert deliver(first, now=start + timedelta(seconds=60)) == "PENDING"
    assert deliver(first, now=start + timedelta(days=2, seconds=60)) == "FAILED"  # schedule over
    assert WebhookEndpoint.objects.get().enabled
    # Still failing three days after the first failure: disabled, and it says why.
    assert deliver(second, now=start + DISABLE_AFTER) == "FAILED"
    endpoint = api.get(f"{WEBHOOKS}/{hook['id']}").json()
    assert endpoint["enabled"] is False
    assert "Disabled automatically" in endpoint["disabledReason"]
    assert "HTTP 503" in endpoint["disabledReason"]
    # Nothing more is recorded for it.
    complete(api, create_token()["id"])
    assert WebhookDelivery.objects.count() == 2
    assert not WebhookDelivery.objects.filter(status="PENDING").exists()


def test_deleting_an_endpoint_stops_its_deliveries(api, create_token, create_webhook, receiver):
    hook = create_webhook(receiver.url)
    receiver.answers = [500]
    complete(api, create_token()["id"])
    delivery = WebhookDelivery.objects.get()
    start = timezone.now()
    assert deliver(delivery, now=start) == "PENDING"
    assert api.delete(f"{WEBHOOKS}/{hook['id']}").status_code == 204
    later = start + timedelta(days=1)
    assert webhooks_send_due(now=later) == 0
    assert deliver(delivery, now=later) is None
    complete(api, create_token()["id"])
    assert not WebhookDelivery.objects.exists()
    assert len(receiver.requests) == 1


def test_no_endpoint_costs_no_extra_statement(api, create_token, environment, allow_private):
    """On PostgreSQL the event is part of the completing statement: completing a token takes
    the same statements with no endpoint and with one subscribed."""

    def statements_to_complete() -> int:
        token = create_token()
        with CaptureQueriesContext(connection) as queries:
            token_complete(
                environment=environment, token_id=token["id"], data=1, via="api", actor="t"
            )
        return len(queries)

    without = statements_to_complete()
    assert not WebhookDelivery.objects.exists()
    WebhookEndpoint.objects.create(
        environment=environment, url="http://127.0.0.1:1/", events=["waitpoint.completed"]
    )
    assert statements_to_complete() == without
    assert WebhookDelivery.objects.count() == 1


def test_only_subscribed_enabled_endpoints_of_the_environment_get_events(
    api, other_api, create_token, create_webhook, receiver
):
    create_webhook(receiver.url, events=["run.completed"])
    create_webhook(receiver.url, events=["waitpoint.completed"], client=other_api)
    disabled = create_webhook(receiver.url, events=["waitpoint.completed"])
    api.patch(f"{WEBHOOKS}/{disabled['id']}", {"enabled": False}, format="json")
    complete(api, create_token()["id"])
    assert not WebhookDelivery.objects.exists()


def test_timeouts_from_the_sweep_are_events(api, create_token, create_webhook, receiver):
    hook = create_webhook(receiver.url, events=["waitpoint.timed_out"])
    tokens = [create_token(timeout="1h")["id"] for _ in range(3)]
    later = timezone.now() + timedelta(hours=2)
    assert waitpoints_sweep_due(now=later) == 3
    deliveries = WebhookDelivery.objects.all()
    assert sorted(d.subject_id for d in deliveries) == sorted(tokens)
    assert {d.event_type for d in deliveries} == {"waitpoint.timed_out"}
    assert deliver(deliveries[0], now=later) == "SUCCEEDED"
    payload = Webhook(hook["secret"]).verify(
        receiver.requests[0].body, receiver.requests[0].headers
    )
    assert payload["data"]["status"] == "TIMED_OUT"
    assert payload["data"]["error"]["name"] == "WaitpointTimeoutError"


def test_send_time_guard_refuses_a_url_that_became_private(
    api, create_token, create_webhook, receiver, settings
):
    create_webhook(receiver.url)
    complete(api, create_token()["id"])
    settings.WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE = False  # as if DNS now pointed inside
    delivery = WebhookDelivery.objects.get()
    assert deliver(delivery) == "PENDING"
    delivery.refresh_from_db()
    assert "Refused" in delivery.last_error and "private" in delivery.last_error
    assert receiver.requests == []


def test_redirects_are_not_followed(api, create_token, create_webhook, receiver):
    create_webhook(receiver.url)
    receiver.answers = [307]
    complete(api, create_token()["id"])
    delivery = WebhookDelivery.objects.get()
    assert deliver(delivery) == "PENDING"
    delivery.refresh_from_db()
    assert delivery.last_status_code == 307
    assert len(receiver.requests) == 1


def test_unreachable_receiver_is_a_failed_attempt(api, create_token, create_webhook):
    create_webhook("http://127.0.0.1:1/nothing-listens")
    complete(api, create_token()["id"])
    delivery = WebhookDelivery.objects.get()
    assert deliver(delivery) == "PENDING"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None and "Error" in delivery.last_error
