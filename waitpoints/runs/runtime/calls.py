"""The durable calls: the `wait` verbs delegate here inside a run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waitpoints.core.validation import clean_json
from waitpoints.errors import InvalidInput
from waitpoints.models import Environment, Run, Waitpoint
from waitpoints.runs.runtime.context import RunContext, Suspend, check_can_suspend
from waitpoints.runs.runtime.outputs import WaitResult, result_from_record, waitpoint_result
from waitpoints.runs.services import durable_calls, execution
from waitpoints.runs.services.trigger import TriggeredRun


def _json_copy(value: Any, *, field_name: str) -> Any:
    """What the journal will give back on replay, so the first execution sees the same value."""
    clean_json(value, field=field_name)
    return json.loads(json.dumps(value))


def create_token(run_context: RunContext, /, **token_fields: Any) -> tuple[Waitpoint, bool]:
    """Create a token once per run position; replays return the journaled token: the waitpoint
    (its id and the run's environment, no query) and whether it was an idempotent replay.

    Only the id is journaled; the SDK derives the callback URL and a fresh public access token
    from it, which keeps a waiting run's rows small.
    """
    sequence, entry = run_context.next_call("create_token")
    if entry is None:
        entry = durable_calls.run_token_create(
            execution=run_context.execution,
            sequence=sequence,
            result_of=lambda created: {"id": created.waitpoint.id, "is_cached": created.is_cached},
            **token_fields,
        )
    waitpoint = Waitpoint(id=entry.result["id"], environment=run_context.environment)
    return waitpoint, entry.result["is_cached"]


def for_token(context: RunContext, token_id: str, *, output_type: Any = None) -> WaitResult:
    if not isinstance(token_id, str) or not token_id:
        raise InvalidInput({"token": "must be a token id or a token object"})
    sequence, entry = context.next_call("for_token", token_id)
    if entry is not None:
        return result_from_record(entry.result, token_id, output_type)
    check_can_suspend(context, "for_token")
    waitpoint = durable_calls.run_block_on(
        execution=context.execution,
        waitpoint_id=token_id,
        journal=durable_calls.Journaled(
            sequence=sequence, kind="for_token", name=token_id, result_of=waitpoint_result
        ),
    )
    if waitpoint is None:
        context.suspended = True
        raise Suspend(token_id)
    return result_from_record(waitpoint_result(waitpoint), token_id, output_type)


def trigger(
    context: RunContext, task_id: str, *, environment: Environment | None = None, **fields: Any
) -> TriggeredRun:
    """Trigger a child run once per run position (in the run's environment unless another is
    given); replays return the journaled run."""
    sequence, entry = context.next_call("trigger", task_id)
    if entry is None:
        entry = durable_calls.run_trigger_journaled(
            execution=context.execution,
            sequence=sequence,
            environment=environment or context.environment,
            task_id=task_id,
            **fields,
        )
    run_id = entry.result["id"]
    return TriggeredRun(
        id=run_id, is_cached=entry.result["is_cached"], run=Run.objects.get(id=run_id)
    )


def step(context: RunContext, name: str, fn: Any, args: tuple, kwargs: dict) -> Any:
    if not isinstance(name, str) or not name:
        raise InvalidInput({"name": "a step needs a non-empty name"})
    sequence, entry = context.next_call("step", name)
    if entry is not None:
        return entry.result
    value = _json_copy(fn(*args, **kwargs), field_name=f"wait.step({name!r}) result")
    execution.run_journal_record(
        execution=context.execution, sequence=sequence, kind="step", name=name, result=value
    )
    return value


def heartbeat(context: RunContext) -> None:
    execution.run_heartbeat(execution=context.execution)


def sleep_until(context: RunContext, until: datetime) -> None:
    if timezone.is_naive(until):
        raise InvalidInput({"until": "must be an aware datetime (with a time zone)"})
    sequence, entry = context.next_call("sleep")
    check_can_suspend(context, "for_/until")
    if entry is None:
        entry = durable_calls.run_sleep_create(
            execution=context.execution, sequence=sequence, until=until
        )
    recorded_until = parse_datetime(entry.result["until"])
    # The journaled moment wins: `until(now() + 1h)` means the same instant on every replay.
    if entry.waitpoint_id is None or recorded_until <= timezone.now():
        return
    waitpoint = durable_calls.run_block_on(
        execution=context.execution, waitpoint_id=entry.waitpoint_id
    )
    if waitpoint is None:
        context.suspended = True
        raise Suspend(entry.waitpoint_id)


def sleep_for(context: RunContext, delta: timedelta) -> None:
    if delta.total_seconds() < 0:
        raise InvalidInput({"duration": "must not be negative"})
    sleep_until(context, timezone.now() + delta)
