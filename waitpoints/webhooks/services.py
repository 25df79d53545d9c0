"""Webhook endpoints: create (the secret is returned once), update, delete, send a test event.

Every input is validated before anything is stored; a bad field is an `InvalidInput` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    SUBSCRIBABLE_EVENTS,
    Environment,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from waitpoints.webhooks import events, guard, signing
from waitpoints.webhooks.delivery import event_body

MAX_DESCRIPTION_LENGTH = 500


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def validate(*, url: Any = None, events_: Any = None, description: Any = None) -> dict[str, Any]:
    """The cleaned values of the fields given (None: not given); InvalidInput names each bad one."""
    details: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if url is not None:
        if not isinstance(url, str):
            details["url"] = "must be a string"
        else:
            try:
                guard.check(url.strip())
                cleaned["url"] = url.strip()
            except guard.UnsafeURL as exc:
                details["url"] = str(exc)
    if events_ is not None:
        if not isinstance(events_, list) or not events_:
            details["events"] = "must be a non-empty list of event types"
        elif unknown := [e for e in events_ if e not in SUBSCRIBABLE_EVENTS]:
            details["events"] = (
                f"unknown event type {str(unknown[0])[:100]!r}; use any of "
                + ", ".join(SUBSCRIBABLE_EVENTS)
            )
        else:
            cleaned["events"] = list(dict.fromkeys(events_))
    if description is not None:
        if not isinstance(description, str):
            details["description"] = "must be a string"
        elif len(description) > MAX_DESCRIPTION_LENGTH:
            details["description"] = f"must be at most {MAX_DESCRIPTION_LENGTH} characters"
        elif "\x00" in description:
            details["description"] = "must not contain NUL characters"
        else:
            cleaned["description"] = description
    if details:
        raise InvalidInput(details)
    return cleaned


def endpoint_create(
    *, environment: Environment, url: Any, events: Any, description: Any = ""
) -> CreatedEndpoint:
    missing = {
        name: "is required" for name, value in (("url", url), ("events", events)) if value is None
    }
    if missing:
        raise InvalidInput(missing)
    cleaned = validate(url=url, events_=events, description=description or "")
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(environment=environment, secret=secret, **cleaned)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def endpoint_update(
    *,
    environment: Environment,
    endpoint_id: str,
    url: Any = None,
    events: Any = None,
    description: Any = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the fields given. Enabling an endpoint clears why it was disabled, and its
    failure streak starts over."""
    cleaned = validate(url=url, events_=events, description=description)
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidInput({"enabled": "must be true or false"})
    with transaction.atomic():
        endpoint = _locked(environment, endpoint_id)
        for name, value in cleaned.items():
            setattr(endpoint, name, value)
        if enabled is not None and enabled != endpoint.enabled:
            endpoint.enabled = enabled
            endpoint.failing_since = None
            endpoint.disabled_reason = "" if enabled else "Disabled by a user"
        endpoint.updated_at = timezone.now()
        endpoint.save()
    return endpoint


def endpoint_delete(*, environment: Environment, endpoint_id: str) -> None:
    """Delete an endpoint and its deliveries: nothing more is sent to it (an attempt already
    under way finishes, and finds nothing to record)."""
    deleted, _ = WebhookEndpoint.objects.filter(environment=environment, id=endpoint_id).delete()
    if not deleted:
        raise NotFound(f"Webhook {endpoint_id!r} not found")


def endpoint_send_test(*, environment: Environment, endpoint_id: str) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint, delivered (and retried) like any event; to a
    disabled endpoint it fails at once, saying so."""
    with transaction.atomic():
        endpoint = _locked(environment, endpoint_id)
        now = timezone.now()
        delivery = WebhookDelivery(
            endpoint=endpoint,
            event_type=WebhookEvent.TEST,
            created_at=now,
            next_attempt_at=now,
            dispatched_at=now,
        )
        delivery.body = event_body(
            event_type=WebhookEvent.TEST,
            created_at=now,
            data={
                "webhookId": endpoint.id,
                "message": "A test event sent by POST /api/v1/webhooks/{id}/test",
            },
        )
        delivery.save()
        events.send_on_commit([delivery.id])
    return delivery


def _locked(environment: Environment, endpoint_id: str) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(environment=environment, id=endpoint_id)
        .first()
    )
    if endpoint is None:
        raise NotFound(f"Webhook {endpoint_id!r} not found")
    return endpoint
