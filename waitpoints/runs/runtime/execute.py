"""Executing one run: the Celery task `execute_run` calls `run_execute`."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from django.db import connection

from waitpoints.core.validation import clean_json
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.runs.registry import task_get
from waitpoints.runs.runtime.context import RunContext, Suspend, activate
from waitpoints.runs.services import execution as services
from waitpoints.runs.services.execution import Execution, RunLeaseLost

logger = logging.getLogger(__name__)


def _error_of(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def run_execute(*, run_id: str) -> str | None:
    """Claim the run, replay its function, and record how this execution ended.

    Returns the status this execution left the run in (None when it did nothing: a duplicate
    message, a run that is not QUEUED, or one lost to a cancel or a takeover meanwhile).
    """
    execution = services.run_claim(run_id=run_id)
    if execution is None:
        services.run_reschedule_if_early(run_id=run_id)
        return None
    run = execution.run
    try:
        task = task_get(run.task_id)
    except NotFound as exc:
        return services.run_fail_attempt(
            execution=execution,
            error={"type": "TaskNotFound", "message": exc.message},
            retry_delay=None,
        )
    context = RunContext(
        execution=execution,
        journal=execution.journal,
        atomic_depth=len(connection.atomic_blocks),
    )
    try:
        with activate(context):
            output = task.fn(run.payload)
    except Suspend:
        return "WAITING"
    except RunLeaseLost:
        logger.info("Run %s: this execution lost the run (canceled or taken over)", run_id)
        return None
    except Exception as exc:
        if context.nondeterminism is not None:
            return _fail_nondeterministic(execution, context)
        if context.suspended:
            return "WAITING"
        attempt = run.attempt_count
        retry_delay = task.retry.delay_after(attempt) if attempt < task.retry.max_attempts else None
        logger.warning(
            "Run %s attempt %d failed: %s%s",
            run_id,
            attempt,
            exc,
            f" (retry in {retry_delay}s)" if retry_delay is not None else "",
        )
        return services.run_fail_attempt(
            execution=execution, error=_error_of(exc), retry_delay=retry_delay
        )
    if context.nondeterminism is not None:
        return _fail_nondeterministic(execution, context)
    if context.suspended:
        # Task code swallowed the suspend signal; the run is WAITING already.
        return "WAITING"
    try:
        clean_json(output, field="output")
    except InvalidInput as exc:
        error = {
            "type": "InvalidOutput",
            "message": f"Task {run.task_id!r} returned a value that is not JSON: {exc.message}",
        }
        return services.run_fail_attempt(execution=execution, error=error, retry_delay=None)
    if services.run_complete(execution=execution, output=output):
        return "COMPLETED"
    return None


def _fail_nondeterministic(execution: Execution, context: RunContext) -> str | None:
    # Replaying again would make the same calls: fail at once, no retries.
    error = _error_of(context.nondeterminism)
    return services.run_fail_attempt(execution=execution, error=error, retry_delay=None)
