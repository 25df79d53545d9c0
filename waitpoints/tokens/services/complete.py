"""Completing or failing a token, and a reviewer's forced timeout: exactly one finisher wins."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from waitpoints.conf import run_lease
from waitpoints.core import database
from waitpoints.core.ids import is_plausible_id
from waitpoints.core.validation import clean_json, clean_text
from waitpoints.decisions.contract import check_answer, contract_of
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    AuditEvent,
    CompletionVia,
    Environment,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
    WebhookEvent,
)
from waitpoints.ops import metrics
from waitpoints.tokens import sql
from waitpoints.tokens.services.expiry import finish_due
from waitpoints.wakeups import services as wakeups
from waitpoints.webhooks import events as webhook_events


class Completion:
    """The outcome of a completion attempt. `won` is False when the waitpoint was already
    finished (completed or timed out) by someone else. The waitpoint is loaded on first use
    when the completing statement did not need it (the API never asks for it)."""

    def __init__(self, waitpoint: Waitpoint | None, *, won: bool, waitpoint_id: str = "") -> None:
        self._waitpoint = waitpoint
        self.waitpoint_id = waitpoint.id if waitpoint is not None else waitpoint_id
        self.won = won

    @property
    def waitpoint(self) -> Waitpoint:
        if self._waitpoint is None:
            self._waitpoint = (
                Waitpoint.objects.select_related("environment")
                .prefetch_related("tags")
                .get(id=self.waitpoint_id)
            )
        return self._waitpoint


def token_complete(
    *,
    environment: Environment,
    token_id: str,
    data: Any,
    via: CompletionVia | str,
    actor: str,
) -> Completion:
    """Complete a WAITING token; a finished one is left as it is (no-op, `won=False`).

    The row lock makes one completer win; a token past its deadline is timed out instead,
    so a late completion can never beat the timeout. The data of a token with a response
    contract must satisfy it (InvalidInput, nothing changed; docs/architecture.md "Decisions").
    """
    if not is_plausible_id(token_id):
        raise NotFound("Waitpoint token not found")
    data = clean_json(data, field="data")
    pipelined = (
        database.postgresql() and not connection.in_atomic_block and sql.pipeline_supported()
    )
    if pipelined:
        completion = _complete_in_one_round_trip(environment, token_id, data, via, actor)
        if completion is not None:
            return completion
    with transaction.atomic():
        now = timezone.now()
        # After the pipelined attempt the statement would find the same (not completable) row.
        if database.postgresql() and not pipelined:
            completed, deliveries = sql.complete_if_waiting(
                environment_id=environment.pk,
                token_id=token_id,
                data=data,
                via=via,
                actor=actor,
                now=now,
            )
            if completed:
                metrics.count_completed(environment, via)
                wakeups.wake_runs_blocked_on([token_id])
                webhook_events.send_on_commit(deliveries)
                return Completion(None, won=True, waitpoint_id=token_id)
        # Not completed above (unknown, finished, overdue or with a contract), or not
        # PostgreSQL: decide under lock.
        waitpoint = lock_token(environment, token_id)
        if finished_or_due(waitpoint, now):
            return Completion(waitpoint, won=False)
        check_answer(contract_of(waitpoint.response), data)
        finish_waiting(
            environment, waitpoint, output=data, is_error=False, via=via, actor=actor, now=now
        )
    return Completion(waitpoint, won=True)


MAX_ERROR_MESSAGE_LENGTH = 5000
MAX_ERROR_NAME_LENGTH = 200


def clean_failure(error: Any, *, field: str = "error") -> dict[str, Any]:
    """`{"message": str, "name"?: str, "data"?: any}`: the error a failed token ends with."""
    if not isinstance(error, dict):
        raise InvalidInput({field: 'must be an object like {"message": "..."}'})
    unknown = sorted(set(error) - {"message", "name", "data"})
    if unknown:
        raise InvalidInput({f"{field}.{unknown[0]}": "is not a known field"})
    cleaned = {
        "message": clean_text(
            error.get("message"), field=f"{field}.message", max_length=MAX_ERROR_MESSAGE_LENGTH
        )
    }
    if "name" in error:
        cleaned["name"] = clean_text(
            error["name"], field=f"{field}.name", max_length=MAX_ERROR_NAME_LENGTH
        )
    if "data" in error:
        cleaned["data"] = clean_json(error["data"], field=f"{field}.data")
    return cleaned


def token_fail(*, environment: Environment, token_id: str, error: Any, actor: str) -> Completion:
    """The outside system reports failure: a WAITING token ends COMPLETED with `error` as its
    output and `outputIsError` (README, "Decisions"). First finish wins, as for complete."""
    error = clean_failure(error)
    with transaction.atomic():
        now = timezone.now()
        waitpoint = lock_token(environment, token_id)
        if finished_or_due(waitpoint, now):
            return Completion(waitpoint, won=False)
        finish_waiting(
            environment,
            waitpoint,
            output=error,
            is_error=True,
            via=CompletionVia.FAIL,
            actor=actor,
            now=now,
        )
    return Completion(waitpoint, won=True)


def finished_or_due(waitpoint: Waitpoint, now) -> bool:
    """Already finished, or past its deadline (then finished by it now, under the lock)."""
    if waitpoint.status != WaitpointStatus.WAITING:
        return True
    if waitpoint.timeout_at <= now:
        finish_due([waitpoint.id], now=now)
        waitpoint.refresh_from_db()
        return True
    return False


def finish_waiting(
    environment: Environment,
    waitpoint: Waitpoint,
    *,
    output: Any,
    is_error: bool,
    via: str,
    actor: str,
    now,
) -> None:
    """Finish a locked WAITING token: the portable twin of `sql.complete_if_waiting`."""
    waitpoint.status = WaitpointStatus.COMPLETED
    waitpoint.output = output
    waitpoint.output_is_error = is_error
    waitpoint.completed_at = now
    waitpoint.completed_via = via
    waitpoint.completed_by = actor
    waitpoint.save(
        update_fields=[
            "status",
            "output",
            "output_is_error",
            "completed_at",
            "completed_via",
            "completed_by",
        ]
    )
    metrics.count_completed(environment, via)
    AuditEvent.objects.create(
        waitpoint=waitpoint,
        action=AuditEvent.Action.FAILED if is_error else AuditEvent.Action.COMPLETED,
        via=via,
        actor=actor,
        data=output,
        created_at=now,
    )
    wakeups.wake_runs_blocked_on([waitpoint.id])
    webhook_events.record(
        event=WebhookEvent.WAITPOINT_COMPLETED,
        subjects=[(waitpoint.environment_id, waitpoint.id)],
        now=now,
    )


def _complete_in_one_round_trip(
    environment: Environment, token_id: str, data: Any, via: CompletionVia | str, actor: str
) -> Completion | None:
    """The fast path outside a caller's transaction (docs/architecture.md, "Fast paths"): the
    completion, its audit row, webhook events and the wake of its runs commit in one round trip,
    then their messages go out. None when the token was not completed (unknown, finished or
    overdue): the caller then decides under the row lock."""
    now = timezone.now()
    done = sql.complete_and_wake(
        environment_id=environment.pk,
        token_id=token_id,
        data=data,
        via=via,
        actor=actor,
        now=now,
        lease=now + run_lease(),
    )
    if done.run_ids:  # committed: sent now (a failed send is logged; the lease resends it)
        wakeups.enqueue_runs_on_commit(done.run_ids)
    if not done.completed:
        return None
    metrics.count_completed(environment, via)
    webhook_events.send_on_commit(done.deliveries)
    return Completion(None, won=True, waitpoint_id=token_id)


def token_force_timeout(*, environment: Environment, token_id: str, actor: str) -> Completion:
    """A reviewer's "Force timeout": the token times out now, as if its deadline had passed."""
    with transaction.atomic():
        waitpoint = lock_token(environment, token_id)
        if waitpoint.status != WaitpointStatus.WAITING:
            return Completion(waitpoint, won=False)
        now = timezone.now()
        already_due = waitpoint.timeout_at <= now
        if not already_due:
            Waitpoint.objects.filter(pk=waitpoint.pk).update(timeout_at=now)
        finish_due([waitpoint.id], now=now)
        if not already_due:
            AuditEvent.objects.create(
                waitpoint=waitpoint,
                action=AuditEvent.Action.FORCED_TIMEOUT,
                via=CompletionVia.DASHBOARD,
                actor=actor,
                created_at=now,
            )
        waitpoint.refresh_from_db()
    return Completion(waitpoint, won=not already_due)


def lock_token(environment: Environment, token_id: str) -> Waitpoint:
    if not is_plausible_id(token_id):
        raise NotFound("Waitpoint token not found")
    waitpoint = (
        Waitpoint.objects.select_for_update()
        .filter(environment=environment, id=token_id, kind=WaitpointKind.MANUAL)
        .first()
    )
    if waitpoint is None:
        raise NotFound(f"Waitpoint token {token_id!r} not found")
    return waitpoint
