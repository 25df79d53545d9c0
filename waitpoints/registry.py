"""Task registry: `@task` functions by id, imported from WAITPOINTS_TASK_MODULES at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from waitpoints.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from waitpoints.models import Environment
    from waitpoints.runs.services import TriggeredRun


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing run is tried, and how long to wait between tries.

    The wait before attempt n+1 is `backoff_seconds * backoff_factor ** (n - 1)`, capped at
    `max_backoff_seconds`.
    """

    max_attempts: int = 3
    backoff_seconds: float = 1.0
    backoff_factor: float = 2.0
    max_backoff_seconds: float = 300.0

    def delay_after(self, attempt: int) -> float:
        delay = self.backoff_seconds * self.backoff_factor ** max(attempt - 1, 0)
        return min(delay, self.max_backoff_seconds)


class Task:
    """A registered task function. Call it directly for a plain call, `.trigger()` for a run."""

    def __init__(self, *, id: str, fn: Callable[[Any], Any], retry: RetryPolicy) -> None:
        self.id = id
        self.fn = fn
        self.retry = retry
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", id)
        self.__module__ = fn.__module__
        self.__wrapped__ = fn

    def __call__(self, payload: Any = None) -> Any:
        return self.fn(payload)

    def __repr__(self) -> str:
        return f"<Task {self.id!r}>"

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


_registry: dict[str, Task] = {}


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
        task_id = id or function.__name__
        existing = _registry.get(task_id)
        qualified = f"{function.__module__}.{function.__qualname__}"
        if existing is not None:
            existing_name = f"{existing.fn.__module__}.{existing.fn.__qualname__}"
            if existing_name != qualified:
                raise ValueError(
                    f"Task id {task_id!r} is already registered by {existing_name}; "
                    f"{qualified} needs another id"
                )
        registered = Task(id=task_id, fn=function, retry=policy)
        _registry[task_id] = registered
        return registered

    if fn is not None:
        return register(fn)
    return register


def task_get(task_id: str) -> Task:
    try:
        return _registry[task_id]
    except KeyError:
        raise NotFound(
            f"Task {task_id!r} not found (is its module listed in WAITPOINTS_TASK_MODULES?)"
        ) from None


def task_ids() -> list[str]:
    return sorted(_registry)


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
        from waitpoints.runs import runtime
        from waitpoints.runs.services import run_trigger
        from waitpoints.sdk import resolve_environment

        if not isinstance(task_id, str) or not task_id:
            raise InvalidInput({"taskId": "must be a non-empty string"})
        context = runtime.current_run()
        if context is not None:  # inside a run: a durable call, journaled
            return runtime.trigger(
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

    def retrieve(self, run_id: str, *, environment: str | Environment | None = None) -> Any:
        from waitpoints.runs.selectors import run_get
        from waitpoints.sdk import resolve_environment

        return run_get(environment=resolve_environment(environment), run_id=run_id)

    def cancel(self, run_id: str, *, environment: str | Environment | None = None) -> Any:
        from waitpoints.runs.services import run_cancel
        from waitpoints.sdk import resolve_environment

        return run_cancel(environment=resolve_environment(environment), run_id=run_id)


tasks = Tasks()


def import_task_modules() -> None:
    for module in settings.WAITPOINTS_TASK_MODULES:
        importlib.import_module(module)
