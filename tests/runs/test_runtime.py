"""Runs executed in this process (no worker): trigger, replay, waits, failures, sleeps, stalls."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.runs.tasks_for_tests import lines
from waitpoints import tasks, wait
from waitpoints.conf import run_lease
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
)
from waitpoints.runs.runtime import context as run_context
from waitpoints.runs.runtime.context import NotInRun
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.runs.services.maintenance import runs_requeue_stalled
from waitpoints.runs.services.trigger import run_cancel
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.complete import token_complete, token_force_timeout
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.wakeups import services as wakeup_services

pytestmark = pytest.mark.django_db


def trigger(environment, task_id, payload=None, **options):
    return tasks.trigger(task_id, payload, environment=environment, **options)


def run_of(triggered) -> Run:
    return Run.objects.get(id=triggered.id)


def blocked_waitpoint(run_id: str) -> Waitpoint:
    return RunBlock.objects.get(run_id=run_id, resumed_at__isnull=True).waitpoint


def complete(environment, waitpoint_id, data):
    return token_complete(
        environment=environment, token_id=waitpoint_id, data=data, via="sdk", actor="test"
    )


# --- Trigger --------------------------------------------------------------------------------


def test_trigger_creates_a_queued_run_and_enqueues_it_on_commit(
    environment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        triggered = trigger(environment, "test-echo", {"n": 1}, tags=["a", "b"])
    run = run_of(triggered)
    assert run.status == RunStatus.QUEUED
    assert run.payload == {"n": 1}
    assert run.tags == ["a", "b"]
    assert run.task_id == "test-echo"
    assert run.lease_expires_at > timezone.now()
    assert len(callbacks) == 1


def test_trigger_with_the_same_idempotency_key_returns_the_first_run(environment):
    first = trigger(environment, "test-echo", 1, idempotency_key="order-7")
    second = trigger(environment, "test-echo", 2, idempotency_key="order-7")
    other_task = trigger(
        environment, "test-wait-for-token", {"log": "x"}, idempotency_key="order-7"
    )
    assert second.id == first.id and second.is_cached and not first.is_cached
    assert other_task.id != first.id
    assert Run.objects.filter(task_id="test-echo").count() == 1


def test_trigger_rejects_unknown_tasks_and_non_json_payloads(environment):
    with pytest.raises(NotFound, match="not found"):
        trigger(environment, "no-such-task")
    with pytest.raises(InvalidInput, match="payload"):
        trigger(environment, "test-echo", {"x": object()})
    assert not Run.objects.exists()


def test_task_object_triggers_its_own_runs(environment):
    from tests.runs.tasks_for_tests import echo

    triggered = echo.trigger({"a": 1}, environment=environment)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output == {"echo": {"a": 1}}
    assert echo({"b": 2}) == {"echo": {"b": 2}}  # a plain call still works


# --- Execution --------------------------------------------------------------------------------


def test_return_value_completes_the_run(environment):
    triggered = trigger(environment, "test-echo", [1, 2])
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    run = run_of(triggered)
    assert run.status == RunStatus.COMPLETED
    assert run.output == {"echo": [1, 2]}
    assert run.attempt_count == 1
    assert run.started_at and run.finished_at and run.lease_expires_at is None


def test_non_json_return_value_fails_with_a_clear_error(environment):
    triggered = trigger(environment, "test-not-json")
    assert run_execute(run_id=triggered.id) == "FAILED"
    run = run_of(triggered)
    assert run.error["type"] == "InvalidOutput"
    assert "not JSON" in run.error["message"]


def test_exception_is_retried_per_policy_then_fails_with_type_message_traceback(
    environment, tmp_path, monkeypatch
):
    log = str(tmp_path / "log")
    triggered = trigger(environment, "test-flaky", {"log": log})
    assert run_execute(run_id=triggered.id) == "QUEUED"
    run = run_of(triggered)
    assert run.attempt_count == 2 and run.retry_at is not None
    assert run.error["type"] == "ValueError"
    # Not before its backoff: a message delivered early is sent again for the retry time.
    Run.objects.filter(id=run.id).update(retry_at=timezone.now() + timedelta(hours=1))
    sent = []
    monkeypatch.setattr(
        wakeup_services, "enqueue_runs", lambda ids, countdown=None: sent.append((ids, countdown))
    )
    assert run_execute(run_id=run.id) is None
    assert sent[0][0] == [run.id] and 3500 < sent[0][1] <= 3600
    Run.objects.filter(id=run.id).update(retry_at=timezone.now())
    assert run_execute(run_id=run.id) == "FAILED"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error["type"] == "ValueError" and run.error["message"] == "boom"
    assert 'raise ValueError("boom")' in run.error["traceback"]
    assert lines(log) == ["attempt", "attempt"]


def test_duplicate_message_does_not_execute_twice(environment):
    triggered = trigger(environment, "test-echo", 1)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_execute(run_id=triggered.id) is None
    assert run_execute(run_id="run_missing") is None


# --- Waiting ------------------------------------------------------------------------------------


def test_for_token_suspends_and_completion_resumes_with_the_output(
    environment, tmp_path, django_capture_on_commit_callbacks
):
    log = str(tmp_path / "log")
    triggered = trigger(environment, "test-wait-for-token", {"log": log})
    assert run_execute(run_id=triggered.id) == "WAITING"
    run = run_of(triggered)
    assert run.status == RunStatus.WAITING and run.lease_expires_at is None
    token = blocked_waitpoint(run.id)
    assert token.status == WaitpointStatus.WAITING and token.kind == WaitpointKind.MANUAL

    with django_capture_on_commit_callbacks() as callbacks:
        assert complete(environment, token.id, {"approved": True}).won
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert len(callbacks) == 1  # the wake enqueues the run
    assert RunBlock.objects.get(run=run).resumed_at is not None

    assert run_execute(run_id=run.id) == "COMPLETED"
    run.refresh_from_db()
    assert run.output == {"ok": True, "output": {"approved": True}}
    # Replayed from the top, but the journaled step ran once, and one token was created.
    assert lines(log) == ["before", "after"]
    assert Waitpoint.objects.filter(environment=environment).count() == 1
    kinds = list(RunJournalEntry.objects.filter(run=run).values_list("kind", flat=True))
    assert kinds == ["create_token", "step", "for_token"]


@pytest.mark.postgres_only("the one-statement claim that brings the waitpoint is PostgreSQL's")
def test_resuming_past_for_token_needs_no_query_for_the_token(environment, tmp_path):
    """The claim brings the finished waitpoint that woke the run (PostgreSQL), so resuming
    past `for_token` reads nothing more (docs/benchmarks.md, P2)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    triggered = trigger(environment, "test-wait-for-token", {"log": str(tmp_path / "log")})
    assert run_execute(run_id=triggered.id) == "WAITING"
    assert complete(environment, blocked_waitpoint(triggered.id).id, {"approved": True}).won

    with CaptureQueriesContext(connection) as queries:
        assert run_execute(run_id=triggered.id) == "COMPLETED"
    token_reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().startswith("SELECT") and "waitpoints_waitpoint" in query["sql"]
    ]
    assert token_reads == []
    assert run_of(triggered).output == {"ok": True, "output": {"approved": True}}


def test_a_child_run_triggered_inside_a_run_is_triggered_once_across_replays(
    environment, django_capture_on_commit_callbacks
):
    parent = trigger(environment, "test-trigger-child-then-wait", {})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert run_execute(run_id=parent.id) == "WAITING"
    child = Run.objects.get(task_id="test-echo")
    assert child.environment == environment  # the parent's, as for its tokens
    assert child.payload == {"from": "parent"} and child.tags == ["child"]
    assert len(callbacks) == 1  # the child is enqueued when the trigger's journal row commits

    assert complete(environment, blocked_waitpoint(parent.id).id, "go").won
    assert run_execute(run_id=parent.id) == "COMPLETED"  # replayed from the top
    assert Run.objects.filter(task_id="test-echo").count() == 1
    assert run_of(parent).output == {"child": child.id, "childCached": False, "ok": True}
    journal = RunJournalEntry.objects.filter(run_id=parent.id).order_by("sequence")
    assert [(entry.kind, entry.name) for entry in journal][0] == ("trigger", "test-echo")


def test_heartbeat_renews_the_lease_and_stops_a_canceled_run(environment, tmp_path):
    log = str(tmp_path / "log")
    live = trigger(environment, "test-heartbeat", {"log": log})
    assert run_execute(run_id=live.id) == "COMPLETED"
    assert run_of(live).output == {"renewed": True}

    canceled = trigger(environment, "test-heartbeat", {"log": log, "cancel_first": True})
    assert run_execute(run_id=canceled.id) is None  # stopped at the heartbeat
    assert run_of(canceled).status == RunStatus.CANCELED
    assert lines(log) == ["after heartbeat"]  # only the live run got past it

    wait.heartbeat()  # outside a run: nothing to renew, no error


def test_timeout_gives_a_not_ok_result_with_waitpoint_timeout_error(environment, tmp_path):
    log = str(tmp_path / "log")
    triggered = trigger(environment, "test-wait-for-token", {"log": log})
    run_execute(run_id=triggered.id)
    token = blocked_waitpoint(triggered.id)
    token_force_timeout(environment=environment, token_id=token.id, actor="test")
    assert run_of(triggered).status == RunStatus.QUEUED
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    output = run_of(triggered).output
    assert output["ok"] is False and output["error"] == "WaitpointTimeoutError"
    assert "timed out" in output["message"]


def test_unwrap_raises_the_timeout_error(environment):
    token = wait.create_token(timeout="1h", environment=environment)
    token_force_timeout(environment=environment, token_id=token.id, actor="test")
    triggered = trigger(environment, "test-unwrap-timeout", {"token": token.id})
    assert run_execute(run_id=triggered.id) == "FAILED"
    assert run_of(triggered).error["type"] == "WaitpointTimeoutError"


def test_an_overdue_token_counts_as_timed_out_before_the_sweeper_runs(environment, tmp_path):
    triggered = trigger(environment, "test-wait-for-token", {"log": str(tmp_path / "l")})
    run_execute(run_id=triggered.id)
    token = blocked_waitpoint(triggered.id)
    Waitpoint.objects.filter(id=token.id).update(timeout_at=timezone.now() - timedelta(seconds=1))
    # A wake-up message for any reason (say, a stalled-run re-enqueue) sees the timeout.
    Run.objects.filter(id=triggered.id).update(status=RunStatus.QUEUED)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output["ok"] is False


def test_two_tokens_awaited_in_sequence(environment):
    triggered = trigger(environment, "test-two-tokens")
    assert run_execute(run_id=triggered.id) == "WAITING"
    first = blocked_waitpoint(triggered.id)
    complete(environment, first.id, "one")
    assert run_execute(run_id=triggered.id) == "WAITING"
    second = blocked_waitpoint(triggered.id)
    assert second.id != first.id and second.title == "second"
    complete(environment, second.id, "two")
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output == ["one", "two"]
    assert Waitpoint.objects.count() == 2


def test_token_created_outside_the_run_then_awaited(environment):
    token = wait.create_token(timeout="1h", environment=environment)
    triggered = trigger(environment, "test-outside-token", {"token": token.id})
    assert run_execute(run_id=triggered.id) == "WAITING"
    wait.complete_token(token.id, {"done": 1}, environment=environment)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output == {"done": 1}


def test_already_completed_token_returns_at_once(environment):
    token = wait.create_token(timeout="1h", environment=environment)
    wait.complete_token(token.id, "early", environment=environment)
    triggered = trigger(environment, "test-outside-token", {"token": token.id})
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output == "early"
    assert not RunBlock.objects.exists()


def test_token_of_another_environment_is_not_found(environment, other_environment):
    token = wait.create_token(timeout="1h", environment=other_environment)
    triggered = trigger(environment, "test-outside-token", {"token": token.id})
    assert run_execute(run_id=triggered.id) == "QUEUED"  # an ordinary failure: retried
    assert "not found" in run_of(triggered).error["message"]


def test_output_type_converts_to_a_dataclass_and_rejects_a_mismatch(environment):
    good = wait.create_token(timeout="1h", environment=environment)
    wait.complete_token(good.id, {"approved": True}, environment=environment)
    triggered = trigger(environment, "test-typed", {"token": good.id})
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert run_of(triggered).output == {"approved": True, "comment": "", "type": "Decision"}

    bad = wait.create_token(timeout="1h", environment=environment)
    wait.complete_token(bad.id, {"approved": "yes"}, environment=environment)
    triggered = trigger(environment, "test-typed", {"token": bad.id})
    run_execute(run_id=triggered.id)
    error = run_of(triggered).error
    assert error["type"] == "InvalidOutput"
    assert "output.approved: expected bool, got str" in error["message"]


def test_run_verbs_outside_a_run_raise_a_clear_error(environment):
    token = wait.create_token(timeout="1h", environment=environment)
    with pytest.raises(NotInRun, match=r"wait\.for_token\(\) only works inside a task run"):
        wait.for_token(token)
    with pytest.raises(NotInRun):
        wait.for_(seconds=1)
    with pytest.raises(NotInRun):
        wait.until(timezone.now())
    assert wait.step("plain", lambda x: x + 1, 1) == 2  # outside a run: just a call


# --- Replay journal ---------------------------------------------------------------------------


def test_changed_call_order_fails_the_run_with_a_clear_error(environment, tmp_path):
    payload = {"log": str(tmp_path / "log"), "flip": str(tmp_path / "flip")}
    triggered = trigger(environment, "test-order", payload)
    assert run_execute(run_id=triggered.id) == "WAITING"
    (tmp_path / "flip").write_text("now b comes first")
    complete(environment, blocked_waitpoint(triggered.id).id, "x")
    assert run_execute(run_id=triggered.id) == "FAILED"
    error = run_of(triggered).error
    assert error["type"] == "NonDeterminismError"
    assert "durable call #1 was wait.step('a')" in error["message"]
    assert "this replay made wait.step('b')" in error["message"]
    assert lines(tmp_path / "log") == ["a", "b"]


# --- Cancel -----------------------------------------------------------------------------------


def test_canceled_waiting_run_never_resumes(
    environment, tmp_path, django_capture_on_commit_callbacks
):
    log = str(tmp_path / "log")
    triggered = trigger(environment, "test-wait-for-token", {"log": log})
    run_execute(run_id=triggered.id)
    token = blocked_waitpoint(triggered.id)
    assert run_cancel(environment=environment, run_id=triggered.id).status == RunStatus.CANCELED
    complete(environment, token.id, {"approved": True})
    assert run_of(triggered).status == RunStatus.CANCELED
    assert run_execute(run_id=triggered.id) is None
    assert run_of(triggered).status == RunStatus.CANCELED
    assert lines(log) == ["before"]


def test_cancel_of_a_finished_run_changes_nothing(environment):
    triggered = trigger(environment, "test-echo", 1)
    run_execute(run_id=triggered.id)
    assert run_cancel(environment=environment, run_id=triggered.id).status == RunStatus.COMPLETED
    with pytest.raises(NotFound):
        run_cancel(environment=environment, run_id="run_nope")


# --- Durable sleep ----------------------------------------------------------------------------


def test_durable_sleep_waits_on_a_datetime_waitpoint_that_the_sweeper_completes(
    environment, tmp_path
):
    log = str(tmp_path / "log")
    triggered = trigger(environment, "test-sleep", {"log": log, "seconds": 60})
    assert run_execute(run_id=triggered.id) == "WAITING"
    sleep = blocked_waitpoint(triggered.id)
    assert sleep.kind == WaitpointKind.DATETIME
    assert timedelta(seconds=55) < sleep.timeout_at - timezone.now() <= timedelta(seconds=60)
    # Durable sleeps are not tokens: the token API does not list them.
    assert list(wait.list_tokens(environment=environment)) == []
    assert waitpoints_sweep_due(now=timezone.now()) == 0
    assert waitpoints_sweep_due(now=sleep.timeout_at) == 1
    sleep.refresh_from_db()
    assert sleep.status == WaitpointStatus.COMPLETED
    assert run_of(triggered).status == RunStatus.QUEUED
    # On replay the journaled moment wins, even though "now + 60 s" has moved on.
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert lines(log) == ["woke"]


# --- Stalled runs -----------------------------------------------------------------------------


def test_stalled_executing_run_is_requeued_as_a_new_attempt_and_the_old_execution_is_fenced(
    environment,
):
    triggered = trigger(environment, "test-echo", 1)
    from waitpoints.runs.services import execution as run_services

    old = run_services.run_claim(run_id=triggered.id)  # a worker that then dies
    past = timezone.now() + run_lease() + timedelta(seconds=1)
    assert runs_requeue_stalled(now=past) == 1
    run = run_of(triggered)
    assert run.status == RunStatus.QUEUED and run.attempt_count == 2
    assert run_execute(run_id=run.id) == "COMPLETED"
    # The dead worker's execution, were it to come back, can no longer write.
    assert run_services.run_complete(execution=old, output="stale") is False
    assert run_of(triggered).output == {"echo": 1}


def test_stalled_run_out_of_attempts_fails_and_lost_queued_message_is_resent(
    environment, django_capture_on_commit_callbacks
):
    executing = trigger(environment, "test-flaky", {"log": "unused"})  # max_attempts=2
    Run.objects.filter(id=executing.id).update(status=RunStatus.EXECUTING, attempt_count=2)
    queued = trigger(environment, "test-echo", 1)
    waiting = trigger(environment, "test-echo", 2)
    Run.objects.filter(id=waiting.id).update(status=RunStatus.WAITING, lease_expires_at=None)
    future = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert runs_requeue_stalled(now=future) == 2
    assert run_of(executing).status == RunStatus.FAILED
    assert run_of(executing).error["type"] == "WorkerLost"
    assert run_of(queued).status == RunStatus.QUEUED
    assert run_of(queued).lease_expires_at > future
    assert run_of(waiting).status == RunStatus.WAITING  # WAITING runs hold no lease
    assert len(callbacks) == 1


def test_current_run_context_is_cleared_after_execution(environment):
    triggered = trigger(environment, "test-echo", 1)
    run_execute(run_id=triggered.id)
    assert run_context.current_run() is None


def test_a_second_execution_recording_the_same_call_loses_the_run(environment):
    from waitpoints.runs.services import execution as run_services

    triggered = trigger(environment, "test-echo", 1)
    execution = run_services.run_claim(run_id=triggered.id)
    run_services.run_journal_record(
        execution=execution, sequence=1, kind="step", name="a", result=1
    )
    lease_after_first = Run.objects.get(id=triggered.id).lease_expires_at
    with pytest.raises(run_services.RunLeaseLost):
        run_services.run_journal_record(
            execution=execution, sequence=1, kind="step", name="a", result=2
        )
    # The conflicting write rolled back whole: the lease renewal too, and the first result stays.
    assert Run.objects.get(id=triggered.id).lease_expires_at == lease_after_first
    assert RunJournalEntry.objects.get(run_id=triggered.id).result == 1


def test_canceled_executing_run_stops_at_its_next_durable_call(environment, tmp_path):
    from waitpoints.runs.services import execution as run_services

    triggered = trigger(environment, "test-echo", 1)
    execution = run_services.run_claim(run_id=triggered.id)
    run_cancel(environment=environment, run_id=triggered.id)
    with pytest.raises(run_services.RunLeaseLost):
        run_services.run_journal_record(
            execution=execution, sequence=1, kind="step", name="a", result=1
        )
    assert run_services.run_complete(execution=execution, output="late") is False
    assert run_of(triggered).status == RunStatus.CANCELED and run_of(triggered).output is None


def test_token_created_in_a_run_has_a_working_url_and_public_token_on_every_replay(environment):
    from waitpoints.runs.services import execution as run_services
    from waitpoints.tokens import public_access

    triggered = trigger(environment, "test-two-tokens")
    run_execute(run_id=triggered.id)
    first = blocked_waitpoint(triggered.id)
    # Replay the journal by hand: create_token gives back the same token, URL and a valid JWT.
    Run.objects.filter(id=triggered.id).update(status=RunStatus.QUEUED)
    execution = run_services.run_claim(run_id=triggered.id)
    context = run_context.RunContext(
        execution=execution, journal=run_services.run_journal(run_id=triggered.id)
    )
    with run_context.activate(context):
        replayed = wait.create_token(timeout="1h")
    assert replayed.id == first.id
    assert replayed.is_cached is False
    assert replayed.url == callback_url(first)
    assert public_access.verify(replayed.public_access_token) == (
        environment,
        [public_access.complete_scope(first.id)],
    )
    assert replayed == replayed and "url=" in repr(replayed)  # a dataclass still, derived lazily
    renamed = dataclasses.replace(replayed, id="other")
    assert (renamed.id, renamed.url, renamed.is_cached) == ("other", replayed.url, False)
    assert Waitpoint.objects.count() == 1


def test_waiting_inside_transaction_atomic_is_refused_clearly(environment):
    token = wait.create_token(timeout="1h", environment=environment)
    triggered = trigger(environment, "test-wait-in-atomic", {"token": token.id})
    assert run_execute(run_id=triggered.id) == "FAILED"
    assert "cannot wait inside transaction.atomic()" in run_of(triggered).error["message"]
    assert not RunBlock.objects.exists()


def test_tasks_export_is_the_sdk_object_after_the_celery_module_is_loaded(environment):
    import importlib

    import waitpoints
    from waitpoints.sdk.tasks import Tasks

    importlib.import_module("waitpoints.celery_tasks")  # as a worker does at start-up
    from waitpoints import tasks as exported

    assert isinstance(exported, Tasks)

    triggered = exported.trigger("test-echo", 5, environment=environment)
    assert exported.retrieve(triggered.id, environment=environment).status == RunStatus.QUEUED
    assert exported.cancel(triggered.id, environment=environment).status == RunStatus.CANCELED
    assert waitpoints.task is not None


def test_convert_output_checks_typed_dicts_lists_and_optionals():
    from typing import TypedDict

    from waitpoints.runs.runtime.outputs import InvalidOutput, convert_output

    class Review(TypedDict, total=False):
        approved: bool
        comment: str | None

    class Strict(TypedDict):
        approved: bool

    assert convert_output({"approved": True}, Review) == {"approved": True}
    assert convert_output({"approved": True, "comment": None}, Review)["comment"] is None
    assert convert_output([1, 2], list[int]) == [1, 2]
    assert convert_output(3, float) == 3.0
    with pytest.raises(InvalidOutput, match="missing key"):
        convert_output({}, Strict)
    with pytest.raises(InvalidOutput, match=r"output\[1\]: expected int"):
        convert_output([1, "x"], list[int])
    with pytest.raises(InvalidOutput, match="expected int, got bool"):
        convert_output(True, int)
