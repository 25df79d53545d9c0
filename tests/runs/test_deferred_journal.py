"""A finished token's result is journaled with the run's next write, not on the way to the line
after `wait.for_token` (docs/benchmarks.md, P2): the journal must still hold it wherever a
replay could need it (docs/architecture.md, "Durable runs")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.runs.tasks_for_tests import lines
from waitpoints import tasks, wait
from waitpoints.models import Run, RunJournalEntry, RunStatus
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.runs.services.maintenance import runs_requeue_stalled

pytestmark = pytest.mark.django_db


def _journal(run_id: str) -> list[tuple[int, str, str]]:
    """In the order the entries were written."""
    return list(
        RunJournalEntry.objects.filter(run_id=run_id)
        .order_by("id")
        .values_list("sequence", "kind", "name")
    )


def _run_past_a_finished_token(environment, tmp_path, mode: str):
    token = wait.create_token(timeout="1h", environment=environment)
    wait.complete_token(token, {"answer": 42}, environment=environment)
    log = tmp_path / "log"
    triggered = tasks.trigger(
        "test-deferred-journal",
        {"token": token.id, "mode": mode, "log": str(log)},
        environment=environment,
    )
    return token, triggered, log


def test_completed_run_journals_the_wait_with_its_completion(environment, tmp_path):
    token, triggered, _ = _run_past_a_finished_token(environment, tmp_path, "end")
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert _journal(triggered.id) == [(1, "for_token", token.id)]
    entry = RunJournalEntry.objects.get(run_id=triggered.id)
    assert entry.result == {"ok": True, "output": {"answer": 42}}
    assert entry.waitpoint_id == token.id
    assert Run.objects.get(id=triggered.id).output == {"answer": 42}


def test_next_journal_write_takes_the_deferred_entry_first(environment, tmp_path):
    token, triggered, _ = _run_past_a_finished_token(environment, tmp_path, "step")
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert _journal(triggered.id) == [(1, "for_token", token.id), (2, "step", "after")]


def test_suspending_on_another_token_journals_the_finished_wait(environment, tmp_path):
    token, triggered, _ = _run_past_a_finished_token(environment, tmp_path, "wait-again")
    assert run_execute(run_id=triggered.id) == "WAITING"
    assert _journal(triggered.id) == [(1, "for_token", token.id), (2, "create_token", "")]


def test_a_retry_finds_the_wait_journaled(environment, tmp_path):
    token, triggered, log = _run_past_a_finished_token(environment, tmp_path, "fail")
    assert run_execute(run_id=triggered.id) == RunStatus.QUEUED
    assert _journal(triggered.id) == [(1, "for_token", token.id)]
    Run.objects.filter(id=triggered.id).update(retry_at=None)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert lines(log) == ["past the wait", "past the wait"]
    assert _journal(triggered.id) == [(1, "for_token", token.id)]


def test_an_execution_lost_before_any_write_replays_the_same_result(environment, tmp_path):
    """The deferred entry dies with its execution; the next one reads the finished token again."""
    from waitpoints.runs.runtime import context as run_context
    from waitpoints.runs.services import execution as run_services

    token, triggered, _ = _run_past_a_finished_token(environment, tmp_path, "end")
    execution = run_services.run_claim(run_id=triggered.id)
    context = run_context.RunContext(
        execution=execution,
        journal=execution.journal,
        atomic_depth=len(connection.atomic_blocks),  # the test's own transaction
    )
    with run_context.activate(context):
        first = wait.for_token(token.id)
    assert execution.deferred and _journal(triggered.id) == []  # then the worker dies
    assert runs_requeue_stalled(now=timezone.now() + timedelta(days=1)) == 1
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert Run.objects.get(id=triggered.id).output == first.output == {"answer": 42}
    assert _journal(triggered.id) == [(1, "for_token", token.id)]


def test_several_deferred_entries_are_written_in_their_order(environment):
    tokens = [wait.create_token(timeout="1h", environment=environment) for _ in range(3)]
    for number, token in enumerate(tokens):
        wait.complete_token(token, number, environment=environment)
    triggered = tasks.trigger(
        "test-two-finished-then-step",
        {"tokens": [token.id for token in tokens]},
        environment=environment,
    )
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert _journal(triggered.id) == [
        (1, "for_token", tokens[0].id),
        (2, "for_token", tokens[1].id),
        (3, "for_token", tokens[2].id),
        (4, "step", "after"),
    ]
    assert Run.objects.get(id=triggered.id).output == [0, 1, 2]
