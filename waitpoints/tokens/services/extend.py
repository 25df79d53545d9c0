"""Extending a waiting token's deadline (the heartbeat of Step Functions' task tokens)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from waitpoints.core.durations import resolve_timeout
from waitpoints.errors import AlreadyFinished, InvalidInput
from waitpoints.models import AuditEvent, Environment, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.complete import lock_token
from waitpoints.tokens.services.expiry import finish_due


def token_extend(
    *, environment: Environment, token_id: str, timeout: str | datetime, actor: str, via: str
) -> Waitpoint:
    """Move a WAITING token's deadline to `timeout` (a duration from now or a date), which must
    be later than its current one; AlreadyFinished for a finished token.

    Under the row lock, so a racing completion, failure or sweep either finished the token
    first (409 here) or finds the new deadline (docs/architecture.md, "Deadlines").
    """
    with transaction.atomic():
        now = timezone.now()
        new_deadline = resolve_timeout(timeout, now=now, field="timeout")
        waitpoint = lock_token(environment, token_id)
        if waitpoint.status == WaitpointStatus.WAITING and waitpoint.timeout_at <= now:
            finish_due([waitpoint.id], now=now)
            waitpoint.refresh_from_db()
        if waitpoint.status != WaitpointStatus.WAITING:
            raise AlreadyFinished(f"Waitpoint token {token_id!r} is already {waitpoint.status}")
        if new_deadline <= waitpoint.timeout_at:
            raise InvalidInput(
                {
                    "timeout": f"must be later than the current deadline ({waitpoint.timeout_at:%Y-%m-%dT%H:%M:%SZ})"
                }
            )
        previous = waitpoint.timeout_at
        waitpoint.timeout_at = new_deadline
        waitpoint.save(update_fields=["timeout_at"])
        AuditEvent.objects.create(
            waitpoint=waitpoint,
            action=AuditEvent.Action.EXTENDED,
            via=via,
            actor=actor,
            data={"from": previous.isoformat(), "to": new_deadline.isoformat()},
            created_at=now,
        )
    return waitpoint
