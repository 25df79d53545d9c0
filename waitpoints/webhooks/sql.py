"""PostgreSQL fast paths of webhook events (docs/architecture.md, "Fast paths").

An event is one delivery row per subscribed, enabled endpoint, inserted by the statement that
finishes the token or run: `deliveries_cte` is the piece the token and run fast paths put in
their own statement, so an event costs no round trip. With no endpoint subscribed it is an index
probe (`webhook_endpoint_enabled_idx`) that inserts nothing.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from waitpoints.models import WebhookDelivery, WebhookEndpoint

# The same shape as `core.ids.new_webhook_message_id`.
MESSAGE_ID_SQL = "'msg_' || replace(gen_random_uuid()::text, '-', '')"


def _column(name: str) -> str:
    return WebhookDelivery._meta.get_field(name).column


def deliveries_cte(*, source: str, subject: str, environment: str, where: str = "") -> str:
    """`INSERT … SELECT … RETURNING id` for a data-modifying CTE: one PENDING delivery per row of
    `source` and enabled endpoint of its environment subscribed to `%(webhook_event)s`.

    `subject` and `environment` are SQL expressions over `source`; the statement binds
    `%(webhook_event)s`, `%(webhook_events)s` (`event_filter(...)`) and `%(now)s`. The other
    columns take their database defaults. Portable twin: `events.record`."""
    columns = ", ".join(
        _column(name)
        for name in ("id", "endpoint", "event_type", "subject_id")
        + ("created_at", "next_attempt_at", "dispatched_at")
    )
    return (
        f"INSERT INTO {WebhookDelivery._meta.db_table} ({columns}) "
        f"SELECT {MESSAGE_ID_SQL}, endpoint.id, %(webhook_event)s, {subject}, "
        "%(now)s, %(now)s, %(now)s "
        f"FROM {source} JOIN {WebhookEndpoint._meta.db_table} AS endpoint "
        f"ON endpoint.environment_id = {environment} AND endpoint.enabled "
        "AND endpoint.events @> %(webhook_events)s::jsonb"
        + (f" WHERE {where}" if where else "")
        + " RETURNING id"
    )


def event_params(event: str) -> dict:
    """The parameters `deliveries_cte` binds for one event type."""
    return {"webhook_event": event, "webhook_events": json.dumps([event])}


_RECORD_SQL = (
    "WITH subject(id, environment_id) AS ("
    "SELECT * FROM unnest(%(subject_ids)s::text[], %(environment_ids)s::bigint[])), "
    f"queued AS ({deliveries_cte(source='subject', subject='subject.id', environment='subject.environment_id')}) "
    "SELECT id FROM queued"
)


def record(*, event: str, subjects: list[tuple[int, str]], now: datetime) -> list[str]:
    """Deliveries for finished subjects `(environment_id, subject_id)` in one statement; their
    ids. Portable twin: the ORM path of `events.record`."""
    params = {
        **event_params(event),
        "subject_ids": [subject_id for _, subject_id in subjects],
        "environment_ids": [environment_id for environment_id, _ in subjects],
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, params)
        return [row[0] for row in cursor.fetchall()]
