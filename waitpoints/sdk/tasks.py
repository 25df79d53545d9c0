"""`@task` and `tasks`: register task functions, trigger, retrieve and cancel their runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waitpoints.errors import InvalidInput
from waitpoints.models import Environment, Run
from waitpoints.runs import registry
from waitpoints.runs.registry import RetryPolicy
from waitpoints.runs.runtime import calls
from waitpoints.runs.runtime.context import current_run
from waitpoints.runs.selectors import run_get
from waitpoints.runs.services.trigger import TriggeredRun, run_cancel, run_trigger
from waitpoints.sdk.environments import resolve_environment


class Task(registry.Task):
    """A registered task function. Call it directly for a plain call, `.trigger()` for a run."""

    def trigger(
        self,
        payload: Any = None,
        *,
        idempotency_key: str | None = None,
        tags: str | list[str] | None = None,
        environment: str | Environment | None = None,
    ) -> TriggeredRun:
        return tasks.trigger(
            self.id,
            payload,
            idempotency_key=idempotency_key,
            tags=tags,
            environment=environment,
        )


def task(
    fn: Callable[[Any], Any] | None = None,
    *,
    id: str | None = None,
    max_attempts: int = 3,
    backoff_seconds: float = 1.0,
    backoff_factor: float = 2.0,
    max_backoff_seconds: float = 300.0,
) -> Any:
    """Register a task function: `@task(id="moderation")` (or bare `@task`: the id is its name).

    The function takes the run's payload (any JSON) and returns its output (any JSON).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    policy = RetryPolicy(
        max_attempts=max_attempts,
        backoff_seconds=backoff_seconds,
        backoff_factor=backoff_factor,
        max_backoff_seconds=max_backoff_seconds,
    )

    def register(function: Callable[[Any], Any]) -> Task:
        return registry.register(Task(id=id or function.__name__, fn=function, retry=policy))

    if fn is not None:
        return register(fn)
    return register


class Tasks:
    """`from waitpoints import tasks`: trigger, retrieve and cancel runs by task id."""

    def trigger(
        self,
        task_id: str,
        payload: Any = None,
        *,
        idempotency_key: str | None = None,
        tags: str | list[str] | None = None,
        environment: str | Environment | None = None,
    ) -> TriggeredRun:
        if not isinstance(task_id, str) or not task_id:
            raise InvalidInput({"taskId": "must be a non-empty string"})
        context = current_run()
        if context is not None:  # inside a run: a durable call, journaled
            return calls.trigger(
                context,
                task_id,
                environment=resolve_environment(environment) if environment else None,
                payload=payload,
                idempotency_key=idempotency_key,
                tags=tags,
            )
        return run_trigger(
            environment=resolve_environment(environment),
            task_id=task_id,
            payload=payload,
            idempotency_key=idempotency_key,
            tags=tags,
        )

    def retrieve(self, run_id: str, *, environment: str | Environment | None = None) -> Run:
        return run_get(environment=resolve_environment(environment), run_id=run_id)

    def cancel(self, run_id: str, *, environment: str | Environment | None = None) -> Run:
        return run_cancel(environment=resolve_environment(environment), run_id=run_id)


tasks = Tasks()
