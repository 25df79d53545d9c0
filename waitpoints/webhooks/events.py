"""Recording webhook events in the transaction that causes them, and sending them on commit.

The token and run services call `record` (or put `sql.deliveries_cte` in their own statement)
while they finish a token or a run, so an event exists exactly when its completion committed.
The Celery messages go out after the commit, by task name (this layer imports no Celery task);
a message lost with the broker is sent again by the beat scan (`delivery.webhooks_send_due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.db import transaction

from waitpoints.core import database
from waitpoints.models import WebhookDelivery, WebhookEndpoint
from waitpoints.webhooks import sql

# The stable names of the Celery tasks in `waitpoints.celery_tasks`.
DELIVER_WEBHOOK_TASK = "waitpoints.tasks.deliver_webhook"
DISPATCH_WEBHOOKS_TASK = "waitpoints.tasks.dispatch_webhooks"
SEND_DUE_WEBHOOKS_TASK = "waitpoints.tasks.send_due_webhooks"

# Publishing a message costs ~1 ms, on the path of the request that completes: a completion with
# several subscribed endpoints (or a sweep that times out thousands of subscribed tokens) sends
# chunks of ids, and a worker fans each chunk out into one message per delivery. One delivery is
# one message, sent directly (docs/benchmarks.md, "Webhooks").
DISPATCH_CHUNK_THRESHOLD = 1
DISPATCH_CHUNK_SIZE = 250


def record(*, event: str, subjects: Iterable[tuple[int, str]], now: datetime) -> list[str]:
    """One delivery per finished subject `(environment_id, subject_id)` and enabled endpoint of
    its environment subscribed to `event`, sent on commit; the delivery ids.

    Call it inside the finishing transaction. With no endpoint subscribed it is one indexed
    query that finds nothing (PostgreSQL: one INSERT … SELECT that inserts nothing)."""
    subjects = list(subjects)
    if not subjects:
        return []
    if database.postgresql():
        ids = sql.record(event=event, subjects=subjects, now=now)
    else:
        endpoints = [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(
                environment_id__in={environment_id for environment_id, _ in subjects},
                enabled=True,
            ).only("id", "environment_id", "events")
            if event in endpoint.events
        ]
        deliveries = [
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_type=event,
                subject_id=subject_id,
                created_at=now,
                next_attempt_at=now,
                dispatched_at=now,
            )
            for environment_id, subject_id in subjects
            for endpoint in endpoints
            if endpoint.environment_id == environment_id
        ]
        WebhookDelivery.objects.bulk_create(deliveries)
        ids = [delivery.id for delivery in deliveries]
    send_on_commit(ids)
    return ids


def send_on_commit(delivery_ids: list[str]) -> None:
    if delivery_ids:
        # robust: a broker down at commit must not fail the committed completion; the beat
        # scan sends the message again.
        transaction.on_commit(lambda: send(delivery_ids), robust=True)


def send(delivery_ids: list[str]) -> None:
    """One delivery: its message. Several: chunks of ids, a message each, for a worker to fan out."""
    if len(delivery_ids) > DISPATCH_CHUNK_THRESHOLD:
        for start in range(0, len(delivery_ids), DISPATCH_CHUNK_SIZE):
            current_app.send_task(
                DISPATCH_WEBHOOKS_TASK, args=(delivery_ids[start : start + DISPATCH_CHUNK_SIZE],)
            )
        return
    send_each(delivery_ids)


def send_each(delivery_ids: list[str]) -> None:
    """A Celery message per delivery: the fan-out of a chunk (never chunks again)."""
    for delivery_id in delivery_ids:
        current_app.send_task(DELIVER_WEBHOOK_TASK, args=(delivery_id,))
