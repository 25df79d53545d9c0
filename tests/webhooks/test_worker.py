"""Webhooks delivered by real Celery workers and beat: retries, and a worker killed mid-delivery."""

import pytest

from tests.helpers import TOKENS
from tests.processes import wait_until
from waitpoints.models import WebhookDelivery

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def worker_environment(monkeypatch, allow_private):
    """What the workers read at start: loopback allowed, short waits."""
    monkeypatch.setenv("WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("WAITPOINTS_WEBHOOKS_RETRY_SCHEDULE", "1s,1s,1s")
    monkeypatch.setenv("WAITPOINTS_WEBHOOKS_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("WAITPOINTS_WEBHOOKS_SCAN_SECONDS", "0.5")


def _complete_a_token(api) -> str:
    token = api.post(TOKENS, {}, format="json").json()
    response = api.post(f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json")
    assert response.status_code == 200
    return token["id"]


def test_a_worker_retries_until_the_receiver_accepts(
    start_worker, worker_environment, create_webhook, api, receiver
):
    create_webhook(receiver.url)
    receiver.answers = [500, 500]
    worker = start_worker(beat=True)
    token_id = _complete_a_token(api)
    wait_until(
        lambda: WebhookDelivery.objects.filter(status="SUCCEEDED").exists(),
        timeout=60,
        what=lambda: f"the delivery to succeed; {len(receiver.requests)} requests\n{worker.log()}",
    )
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert receiver.requests[-1].json["data"]["id"] == token_id


def test_a_worker_killed_mid_delivery_loses_no_event(
    start_worker, worker_environment, create_webhook, api, receiver
):
    create_webhook(receiver.url)
    receiver.hang_first = True
    worker = start_worker()
    _complete_a_token(api)
    wait_until(lambda: receiver.requests, what="the first delivery to reach the receiver")
    worker.kill()  # mid-delivery: the receiver has the request and has not answered
    receiver.release()
    replacement = start_worker(beat=True)
    wait_until(
        lambda: WebhookDelivery.objects.filter(status="SUCCEEDED").exists(),
        timeout=90,
        what=lambda: f"the delivery to be retried\n{replacement.log()}",
    )
    assert len(receiver.requests) >= 2
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
