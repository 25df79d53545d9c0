"""Task registry: `@task` functions by id, imported from WAITPOINTS_TASK_MODULES at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from waitpoints.conf import waitpoints_settings
from waitpoints.errors import NotFound


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
    """A registered task function; the SDK's `@task` returns a subclass that can be triggered."""

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


_registry: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task under its id; the same id from another function is refused."""
    existing = _registry.get(task.id)
    qualified = f"{task.fn.__module__}.{task.fn.__qualname__}"
    if existing is not None:
        existing_name = f"{existing.fn.__module__}.{existing.fn.__qualname__}"
        if existing_name != qualified:
            raise ValueError(
                f"Task id {task.id!r} is already registered by {existing_name}; "
                f"{qualified} needs another id"
            )
    _registry[task.id] = task
    return task


def task_get(task_id: str) -> Task:
    try:
        return _registry[task_id]
    except KeyError:
        raise NotFound(
            f"Task {task_id!r} not found (is its module listed in WAITPOINTS_TASK_MODULES?)"
        ) from None


def task_or_none(task_id: str) -> Task | None:
    return _registry.get(task_id)


def task_ids() -> list[str]:
    return sorted(_registry)


def import_task_modules() -> None:
    for module in waitpoints_settings.task_modules:
        importlib.import_module(module)
