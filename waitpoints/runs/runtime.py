"""Executing a run: replay its function from the top, answering durable calls from the journal.

Each durable call (`create_token`, `for_token`, `step`, `for_`/`until`) takes the next sequence
number. If the journal holds that number, the recorded result is returned (after checking that the
call is the same kind); otherwise the call acts, and records its result. `for_token` on a waitpoint
that is still waiting records a block, sets the run WAITING and raises `Suspend`: the Celery task
returns, and no worker process or thread is held until a completion enqueues the run again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import traceback
import types
import typing
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waitpoints.errors import InvalidInput, NotFound, WaitpointsError, WaitpointTimeoutError
from waitpoints.models import TIMEOUT_ERROR_NAME, Environment, Run, RunJournalEntry, Waitpoint
from waitpoints.runs import services
from waitpoints.runs.services import Execution, Journaled, RunLeaseLost
from waitpoints.validation import clean_json

logger = logging.getLogger(__name__)


class NotInRun(WaitpointsError):  # noqa: N818
    """A run-only call (`wait.for_token`, `wait.for_`, `wait.until`) made outside a task run."""


class NonDeterminismError(WaitpointsError):
    """A replay made a different durable call than the journal recorded at that position."""


class InvalidOutput(WaitpointsError, TypeError):
    """A waitpoint's output does not match the `output_type=` asked for."""


class Suspend(BaseException):  # noqa: N818 (a control-flow signal, not an error)
    """Raised by `for_token` when the run must wait; a BaseException so task code can't catch it
    with `except Exception`."""


@dataclass
class RunContext:
    execution: Execution
    journal: dict[int, RunJournalEntry]
    sequence: int = 0
    # Set when a durable call found a different sequence: the run fails even if task code
    # swallowed the exception.
    nondeterminism: NonDeterminismError | None = None
    suspended: bool = False
    # How deep in transaction.atomic() the run started (tests run inside one already).
    atomic_depth: int = 0

    @property
    def run_id(self) -> str:
        return self.execution.run_id

    @property
    def task_id(self) -> str:
        return self.execution.run.task_id

    @property
    def attempt(self) -> int:
        return self.execution.run.attempt_count

    @property
    def environment(self):
        return self.execution.run.environment

    def next_call(self, kind: str, name: str = "") -> tuple[int, RunJournalEntry | None]:
        self.sequence += 1
        entry = self.journal.get(self.sequence)
        if entry is not None and (entry.kind != kind or entry.name != name[:200]):
            error = NonDeterminismError(
                f"Non-deterministic replay of run {self.run_id}: durable call #{self.sequence} "
                f"was {describe_call(entry.kind, entry.name)} when the run first executed, but "
                f"this replay made {describe_call(kind, name)} there. Code between durable calls "
                "must be deterministic: put side effects and changing values in wait.step()."
            )
            self.nondeterminism = error
            raise error
        return self.sequence, entry


def _check_can_suspend(context: RunContext, verb: str) -> None:
    from django.db import connection

    if len(connection.atomic_blocks) > context.atomic_depth:
        raise WaitpointsError(
            f"wait.{verb}() cannot wait inside transaction.atomic(): suspending would roll the "
            "block back. Commit first, then wait."
        )


def describe_call(kind: str, name: str) -> str:
    if kind == "step":
        return f"wait.step({name!r})"
    if kind == "for_token":
        return f"wait.for_token({name!r})"
    if kind == "create_token":
        return "wait.create_token()"
    if kind == "sleep":
        return "wait.for_()/wait.until()"
    if kind == "trigger":
        return f"tasks.trigger({name!r})"
    return f"{kind}({name!r})"


_current: ContextVar[RunContext | None] = ContextVar("waitpoints_run", default=None)


def current_run() -> RunContext | None:
    """The run being executed in this thread, or None outside a run."""
    return _current.get()


def _require_run(verb: str) -> RunContext:
    context = _current.get()
    if context is None:
        raise NotInRun(
            f"wait.{verb}() only works inside a task run (a function decorated with @task and "
            "started with .trigger()); outside a run there is nothing to suspend"
        )
    return context


def _json_copy(value: Any, *, field_name: str) -> Any:
    """What the journal will give back on replay, so the first execution sees the same value."""
    clean_json(value, field=field_name)
    return json.loads(json.dumps(value))


# --- Results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitResult:
    """The outcome of `wait.for_token`: `ok` with `output`, or not ok with `error` (a timeout)."""

    ok: bool
    output: Any = None
    error: WaitpointTimeoutError | None = None
    waitpoint_id: str = ""

    def unwrap(self) -> Any:
        """The output; raises the timeout error when the token timed out."""
        if not self.ok:
            raise self.error or WaitpointTimeoutError("Waitpoint timed out")
        return self.output


def _waitpoint_result(waitpoint: Waitpoint) -> dict[str, Any]:
    return {"ok": not waitpoint.result_is_error, "output": waitpoint.result_output}


def _result_from_record(record: dict[str, Any], waitpoint_id: str, output_type: Any) -> WaitResult:
    if record.get("ok"):
        output = record.get("output")
        if output_type is not None:
            output = convert_output(output, output_type)
        return WaitResult(ok=True, output=output, waitpoint_id=waitpoint_id)
    error_body = record.get("output") or {}
    message = error_body.get("message") if isinstance(error_body, dict) else None
    error = WaitpointTimeoutError(message or f"Waitpoint {waitpoint_id} timed out")
    error.name = (error_body.get("name") if isinstance(error_body, dict) else None) or (
        TIMEOUT_ERROR_NAME
    )
    error.output = error_body
    return WaitResult(ok=False, error=error, waitpoint_id=waitpoint_id)


def convert_output(value: Any, output_type: Any, path: str = "output") -> Any:
    """Check `value` against a dataclass, TypedDict or simple type, converting dataclasses."""
    if output_type is Any or output_type is object:
        return value
    origin = typing.get_origin(output_type)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(output_type):
            try:
                return convert_output(value, option, path)
            except InvalidOutput:
                continue
        raise InvalidOutput(f"{path}: {value!r} matches none of {output_type}")
    if output_type is None or output_type is type(None):
        if value is not None:
            raise InvalidOutput(f"{path}: expected null, got {type(value).__name__}")
        return None
    if dataclasses.is_dataclass(output_type) and isinstance(output_type, type):
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object for {output_type.__name__}")
        hints = typing.get_type_hints(output_type)
        arguments = {}
        for item in dataclasses.fields(output_type):
            if item.name in value:
                arguments[item.name] = convert_output(
                    value[item.name], hints.get(item.name, Any), f"{path}.{item.name}"
                )
            elif (
                item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            ):
                raise InvalidOutput(f"{path}: missing field {item.name!r}")
        return output_type(**arguments)
    if typing.is_typeddict(output_type):
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object for {output_type.__name__}")
        hints = typing.get_type_hints(output_type)
        missing = sorted(output_type.__required_keys__ - value.keys())
        if missing:
            raise InvalidOutput(f"{path}: missing key(s) {', '.join(map(repr, missing))}")
        return {
            key: convert_output(item, hints[key], f"{path}.{key}") if key in hints else item
            for key, item in value.items()
        }
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise InvalidOutput(f"{path}: expected a list, got {type(value).__name__}")
        arguments = typing.get_args(output_type)
        item_type = arguments[0] if arguments else Any
        return [convert_output(item, item_type, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidOutput(f"{path}: expected an object, got {type(value).__name__}")
        arguments = typing.get_args(output_type)
        value_type = arguments[1] if len(arguments) == 2 else Any
        return {
            key: convert_output(item, value_type, f"{path}.{key}") for key, item in value.items()
        }
    if origin is typing.Literal:
        if value not in typing.get_args(output_type):
            raise InvalidOutput(f"{path}: {value!r} is not one of {typing.get_args(output_type)}")
        return value
    if isinstance(output_type, type):
        if output_type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if output_type is int and isinstance(value, bool):
            raise InvalidOutput(f"{path}: expected int, got bool")
        if not isinstance(value, output_type):
            raise InvalidOutput(
                f"{path}: expected {output_type.__name__}, got {type(value).__name__}"
            )
        return value
    return value


# --- Durable calls (the `wait` verbs delegate here inside a run) ---------------------------------


def create_token(run_context: RunContext, /, **token_fields: Any) -> dict[str, Any]:
    """Create a token once per run position; replays return the journaled token.

    Only the id is journaled; the callback URL and a fresh public access token are derived from
    it (no query: the run's environment is at hand), which keeps a waiting run's rows small.
    """
    sequence, entry = run_context.next_call("create_token")
    if entry is None:
        entry = services.run_token_create(
            execution=run_context.execution,
            sequence=sequence,
            result_of=lambda created: {"id": created.waitpoint.id, "is_cached": created.is_cached},
            **token_fields,
        )
    return _created_token_fields(run_context, entry.result)


def _created_token_fields(run_context: RunContext, recorded: dict[str, Any]) -> dict[str, Any]:
    from waitpoints import public_tokens
    from waitpoints import services as token_services

    waitpoint = Waitpoint(id=recorded["id"], environment=run_context.environment)
    return {
        "id": recorded["id"],
        "url": token_services.callback_url(waitpoint),
        "is_cached": recorded["is_cached"],
        "public_access_token": public_tokens.issue(waitpoint),
    }


def for_token(context: RunContext, token_id: str, *, output_type: Any = None) -> WaitResult:
    if not isinstance(token_id, str) or not token_id:
        raise InvalidInput({"token": "must be a token id or a token object"})
    sequence, entry = context.next_call("for_token", token_id)
    if entry is not None:
        return _result_from_record(entry.result, token_id, output_type)
    _check_can_suspend(context, "for_token")
    waitpoint = services.run_block_on(
        execution=context.execution,
        waitpoint_id=token_id,
        journal=Journaled(
            sequence=sequence, kind="for_token", name=token_id, result_of=_waitpoint_result
        ),
    )
    if waitpoint is None:
        context.suspended = True
        raise Suspend(token_id)
    return _result_from_record(_waitpoint_result(waitpoint), token_id, output_type)


def trigger(
    context: RunContext, task_id: str, *, environment: Environment | None = None, **fields: Any
) -> services.TriggeredRun:
    """Trigger a child run once per run position (in the run's environment unless another is
    given); replays return the journaled run."""
    sequence, entry = context.next_call("trigger", task_id)
    if entry is None:
        entry = services.run_trigger_journaled(
            execution=context.execution,
            sequence=sequence,
            environment=environment or context.environment,
            task_id=task_id,
            **fields,
        )
    run_id = entry.result["id"]
    return services.TriggeredRun(
        id=run_id, is_cached=entry.result["is_cached"], run=Run.objects.get(id=run_id)
    )


def step(context: RunContext, name: str, fn: Any, args: tuple, kwargs: dict) -> Any:
    if not isinstance(name, str) or not name:
        raise InvalidInput({"name": "a step needs a non-empty name"})
    sequence, entry = context.next_call("step", name)
    if entry is not None:
        return entry.result
    value = _json_copy(fn(*args, **kwargs), field_name=f"wait.step({name!r}) result")
    services.run_journal_record(
        execution=context.execution, sequence=sequence, kind="step", name=name, result=value
    )
    return value


def heartbeat(context: RunContext) -> None:
    services.run_heartbeat(execution=context.execution)


def sleep_until(context: RunContext, until: datetime) -> None:
    if timezone.is_naive(until):
        raise InvalidInput({"until": "must be an aware datetime (with a time zone)"})
    sequence, entry = context.next_call("sleep")
    _check_can_suspend(context, "for_/until")
    if entry is None:
        entry = services.run_sleep_create(
            execution=context.execution, sequence=sequence, until=until
        )
    recorded_until = parse_datetime(entry.result["until"])
    # The journaled moment wins: `until(now() + 1h)` means the same instant on every replay.
    if entry.waitpoint_id is None or recorded_until <= timezone.now():
        return
    waitpoint = services.run_block_on(execution=context.execution, waitpoint_id=entry.waitpoint_id)
    if waitpoint is None:
        context.suspended = True
        raise Suspend(entry.waitpoint_id)


def sleep_for(context: RunContext, delta: timedelta) -> None:
    if delta.total_seconds() < 0:
        raise InvalidInput({"duration": "must not be negative"})
    sleep_until(context, timezone.now() + delta)


# --- Executing a run (the Celery task `execute_run` calls this) ---------------------------------


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
    from waitpoints.registry import task_get

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
    from django.db import connection

    context = RunContext(
        execution=execution,
        journal=execution.journal,
        atomic_depth=len(connection.atomic_blocks),
    )
    token = _current.set(context)
    try:
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
    finally:
        _current.reset(token)
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
