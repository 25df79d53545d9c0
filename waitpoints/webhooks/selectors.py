"""Reads of webhook endpoints and their deliveries, one environment at a time."""

from __future__ import annotations

from django.db.models import QuerySet

from waitpoints.errors import NotFound
from waitpoints.models import Environment, WebhookDelivery, WebhookEndpoint


def endpoint_list(*, environment: Environment) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(environment=environment).order_by("created_at", "id")


def endpoint_get(*, environment: Environment, endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(environment=environment, id=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"Webhook {endpoint_id!r} not found")
    return endpoint


def delivery_list(
    *, environment: Environment, endpoint_id: str, limit: int = 25
) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (NotFound for another environment's)."""
    endpoint = endpoint_get(environment=environment, endpoint_id=endpoint_id)
    return list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .defer("body")
        .order_by("-created_at", "-id")[:limit]
    )
