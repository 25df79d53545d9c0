"""Outbound webhooks: an environment's endpoints, and one delivery per event and endpoint."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from waitpoints.core.ids import new_webhook_endpoint_id, new_webhook_message_id
from waitpoints.models.environments import Environment


class WebhookEvent(models.TextChoices):
    WAITPOINT_COMPLETED = "waitpoint.completed"
    WAITPOINT_TIMED_OUT = "waitpoint.timed_out"
    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_CANCELED = "run.canceled"
    # Sent by `POST /webhooks/{id}/test` only; not subscribable.
    TEST = "webhook.test"


SUBSCRIBABLE_EVENTS = [event.value for event in WebhookEvent if event != WebhookEvent.TEST]


class WebhookEndpoint(models.Model):
    id = models.CharField(
        primary_key=True, max_length=64, default=new_webhook_endpoint_id, editable=False
    )
    # Indexed by webhook_endpoint_env_idx (environment, created_at).
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="webhook_endpoints", db_index=False
    )
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    events = models.JSONField(default=list, help_text="A list of event types")
    # Signs every delivery (Standard Webhooks, `whsec_…`). Kept retrievable because signing
    # needs it; shown once by the API and never in reads or admin lists.
    secret = models.CharField(max_length=128, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=1000, blank=True)
    # Set at the first failed attempt after a success; an endpoint failing for 3 days is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["environment", "created_at"], name="webhook_endpoint_env_idx"),
            # The probe on every completion: does this environment have an enabled endpoint?
            models.Index(
                fields=["environment"],
                name="webhook_endpoint_enabled_idx",
                condition=Q(enabled=True),
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookDelivery(models.Model):
    """One event for one endpoint. Its id is the `webhook-id` header, the same on every retry.

    The PostgreSQL fast paths insert rows naming only a few columns; the rest have database
    defaults (`db_default`)."""

    id = models.CharField(
        primary_key=True, max_length=64, default=new_webhook_message_id, editable=False
    )
    # Indexed by webhook_delivery_endpoint_idx (endpoint, -created_at).
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_type = models.CharField(max_length=64)
    # The token or run the event is about (rendered as the API returns it at the first attempt).
    subject_id = models.CharField(max_length=64, blank=True, db_default="")
    # The signed body, fixed at the first attempt so that every retry sends the same bytes.
    body = models.TextField(blank=True, default="", db_default="")
    status = models.CharField(
        max_length=16,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.PENDING,
        db_default=WebhookDeliveryStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    # When the next attempt is due (PENDING only); during an attempt, the end of its lease.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a Celery message was last sent for this delivery (see `webhooks.delivery`).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="", db_default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status="PENDING"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.event_type}"
