"""The tables of the one `waitpoints` app, one module per part of the domain.

Models hold fields, constraints and small derived properties; every write goes through the
services of `waitpoints.environments`, `waitpoints.tokens`, `waitpoints.runs` and
`waitpoints.webhooks`.
"""

# Migrations name the id defaults by this module's path.
from waitpoints.core.ids import new_run_id, new_signing_secret, new_waitpoint_id
from waitpoints.models.environments import ApiKey, Environment
from waitpoints.models.runs import Run, RunBlock, RunJournalEntry, RunStatus
from waitpoints.models.tokens import (
    TIMEOUT_ERROR_NAME,
    AuditEvent,
    CompletionVia,
    Waitpoint,
    WaitpointAssignee,
    WaitpointKind,
    WaitpointStatus,
    WaitpointTag,
    WaitpointVote,
    assignee_keys,
    timeout_error,
)
from waitpoints.models.webhooks import (
    SUBSCRIBABLE_EVENTS,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "TIMEOUT_ERROR_NAME",
    "ApiKey",
    "AuditEvent",
    "CompletionVia",
    "Environment",
    "Run",
    "RunBlock",
    "RunJournalEntry",
    "RunStatus",
    "SUBSCRIBABLE_EVENTS",
    "Waitpoint",
    "WaitpointKind",
    "WaitpointStatus",
    "WaitpointAssignee",
    "WaitpointTag",
    "WaitpointVote",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
    "new_run_id",
    "new_signing_secret",
    "new_waitpoint_id",
    "assignee_keys",
    "timeout_error",
]
