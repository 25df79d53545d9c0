"""The run being executed in this thread, and the checks every durable call makes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection

from waitpoints.errors import WaitpointsError
from waitpoints.models import Environment, RunJournalEntry
from waitpoints.runs.services.execution import Execution


class NotInRun(WaitpointsError):  # noqa: N818
    """A run-only call (`wait.for_token`, `wait.for_`, `wait.until`) made outside a task run."""


class NonDeterminismError(WaitpointsError):
    """A replay made a different durable call than the journal recorded at that position."""


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
    def environment(self) -> Environment:
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


def check_can_suspend(context: RunContext, verb: str) -> None:
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


def require_run(verb: str) -> RunContext:
    context = _current.get()
    if context is None:
        raise NotInRun(
            f"wait.{verb}() only works inside a task run (a function decorated with @task and "
            "started with .trigger()); outside a run there is nothing to suspend"
        )
    return context


@contextmanager
def activate(context: RunContext) -> Iterator[RunContext]:
    """Make `context` the current run of this thread while its function executes."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
