"""Delivering a webhook: claim, render and sign, POST, then record success or schedule a retry.

At-least-once: an attempt first claims the delivery with a conditional UPDATE that moves
`next_attempt_at` to the end of a lease, so a duplicate message does nothing while an attempt
runs, and a worker that dies mid-attempt leaves a delivery that the beat scan
(`webhooks_send_due`) sends again once the lease is over. Every attempt sends the same
`webhook-id` (the delivery's id) and the same body (stored at the first attempt).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from waitpoints.webhooks import events, guard, signing, transport

logger = logging.getLogger(__name__)

# An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER = timedelta(days=3)
# A dispatched message that has not been claimed after this long is taken as lost.
REDISPATCH_AFTER = timedelta(minutes=5)
USER_AGENT = "Waitpoints-Webhooks/1"

# (event type, subject id, environment id) -> the event's `data`, as the API shows the subject.
Renderer = Callable[[str, str, int], dict[str, Any]]


def attempt_lease() -> timedelta:
    """How long an attempt owns its delivery: longer than a connect plus a read can take."""
    return timedelta(seconds=2 * waitpoints_settings.webhooks_timeout_seconds + 5)


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    schedule = waitpoints_settings.webhooks_retry_schedule
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def event_body(*, event_type: str, created_at: datetime, data: dict[str, Any]) -> str:
    timestamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def webhook_deliver(
    *, delivery_id: str, render: Renderer, now: datetime | None = None
) -> str | None:
    """One attempt of one delivery; its new status, or None when there was nothing to do (a
    duplicate message, an attempt under way, not due yet, finished or deleted).

    `now` (tests) fixes the clock of the attempt's bookkeeping."""
    clock = (lambda: now) if now is not None else timezone.now
    started = clock()
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=started
    ).update(
        next_attempt_at=started + attempt_lease(),
        attempts=F("attempts") + 1,
        last_attempt_at=started,
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(id=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _finish(delivery, WebhookDeliveryStatus.FAILED, error="The endpoint is disabled")
        return WebhookDeliveryStatus.FAILED
    if not delivery.body:
        data = render(delivery.event_type, delivery.subject_id, endpoint.environment_id)
        delivery.body = event_body(
            event_type=delivery.event_type, created_at=delivery.created_at, data=data
        )
        WebhookDelivery.objects.filter(id=delivery_id).update(body=delivery.body)
    # Signed with the real time even under a test's clock: receivers check it against theirs.
    status_code, error = _attempt(delivery, endpoint, timezone.now())
    finished = clock()
    if error is None:
        _finish(delivery, WebhookDeliveryStatus.SUCCEEDED, status_code=status_code, now=finished)
        WebhookEndpoint.objects.filter(id=endpoint.id, failing_since__isnull=False).update(
            failing_since=None
        )
        return WebhookDeliveryStatus.SUCCEEDED
    logger.warning(
        "Webhook %s (%s) to %s failed, attempt %d: %s",
        delivery.id,
        delivery.event_type,
        endpoint.url,
        delivery.attempts,
        error,
    )
    return _failed(delivery, endpoint, status_code=status_code, error=error, now=finished)


def _attempt(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime
) -> tuple[int | None, str | None]:
    """POST the signed body; (status code, None) on a 2xx, else (status code or None, why)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.signed_headers(
            secret=endpoint.secret, message_id=delivery.id, timestamp=now, body=delivery.body
        ),
    }
    try:
        target = guard.parse(endpoint.url)
        answer = transport.post(
            target,
            body=delivery.body,
            headers=headers,
            timeout=waitpoints_settings.webhooks_timeout_seconds,
        )
    except guard.UnsafeURL as exc:
        return None, f"Refused: the URL {exc}"
    except Exception as exc:  # noqa: BLE001 (any failure to talk HTTP is a failed attempt)
        return None, f"{type(exc).__name__}: {exc}"[:1000]
    if 200 <= answer.status < 300:
        return answer.status, None
    return answer.status, f"HTTP {answer.status}: {answer.body}"[:1000]


def _finish(
    delivery: WebhookDelivery,
    status: str,
    *,
    status_code: int | None = None,
    error: str = "",
    now: datetime | None = None,
) -> None:
    WebhookDelivery.objects.filter(id=delivery.id).update(
        status=status,
        next_attempt_at=None,
        last_status_code=status_code,
        last_error=error,
        delivered_at=now if status == WebhookDeliveryStatus.SUCCEEDED else None,
    )


def _failed(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    *,
    status_code: int | None,
    error: str,
    now: datetime,
) -> str:
    delay = retry_delay(delivery.attempts)
    with transaction.atomic():
        if delay is None:
            _finish(delivery, WebhookDeliveryStatus.FAILED, status_code=status_code, error=error)
        else:
            WebhookDelivery.objects.filter(id=delivery.id).update(
                next_attempt_at=now + timedelta(seconds=delay),
                last_status_code=status_code,
                last_error=error,
            )
        WebhookEndpoint.objects.filter(id=endpoint.id, failing_since__isnull=True).update(
            failing_since=now
        )
        failing_since = (
            WebhookEndpoint.objects.filter(id=endpoint.id)
            .values_list("failing_since", flat=True)
            .first()
        )
        if failing_since is not None and now - failing_since >= DISABLE_AFTER:
            endpoint_disable_failing(endpoint_id=endpoint.id, since=failing_since, error=error)
            return WebhookDeliveryStatus.FAILED
    return WebhookDeliveryStatus.FAILED if delay is None else WebhookDeliveryStatus.PENDING


def endpoint_disable_failing(*, endpoint_id: str, since: datetime, error: str) -> None:
    """Disable an endpoint that failed every attempt since `since`; its pending deliveries fail."""
    reason = (
        f"Disabled automatically: every delivery failed since {since.isoformat()} "
        f"(over {DISABLE_AFTER.days} days). Last error: {error}"
    )[:1000]
    WebhookEndpoint.objects.filter(id=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason, updated_at=timezone.now()
    )
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDeliveryStatus.PENDING
    ).update(
        status=WebhookDeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error=f"Not sent: the endpoint was disabled. Last error: {error}"[:1000],
    )
    logger.error("Webhook endpoint %s disabled: %s", endpoint_id, reason)


def webhooks_send_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Beat: send a message for every due delivery that has none outstanding (a retry whose
    time has come, a message lost with the broker, an attempt whose worker died). How many."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=WebhookDeliveryStatus.PENDING,
                next_attempt_at__lte=now,
                endpoint__enabled=True,
            )
            .filter(
                Q(dispatched_at__isnull=True)
                | Q(dispatched_at__lt=F("next_attempt_at"))
                | Q(dispatched_at__lt=now - REDISPATCH_AFTER)
            )
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if due:
            WebhookDelivery.objects.filter(id__in=due).update(dispatched_at=now)
            events.send_on_commit(due)
    return len(due)
