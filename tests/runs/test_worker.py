"""Acceptance: runs in a real Celery worker process (Redis broker and PostgreSQL, or the embedded
default's filesystem broker and SQLite file).

Each test polls with a deadline (30 s), so a broken wake-up fails instead of hanging.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django.utils import timezone

from tests.processes import wait_until
from tests.runs.tasks_for_tests import RACE_TITLE, lines
from waitpoints import tasks
from waitpoints.celery_tasks import execute_run
from waitpoints.models import Run, RunBlock, RunJournalEntry, RunStatus, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def status_of(run_id: str) -> str:
    return Run.objects.get(id=run_id).status


def wait_for_status(run_id: str, status: str, timeout: float = 30) -> Run:
    wait_until(lambda: status_of(run_id) == status, timeout=timeout, what=f"{run_id} {status}")
    return Run.objects.get(id=run_id)


def blocked_token(run_id: str) -> Waitpoint:
    return wait_until(
        lambda: (
            Waitpoint.objects.filter(blocks__run_id=run_id, blocks__resumed_at__isnull=True)
            .select_related("environment")
            .first()
        ),
        what=f"{run_id} to block on a waitpoint",
    )


def test_waiting_run_releases_its_worker_and_resumes_with_the_token_output(
    start_worker, environment, tmp_path
):
    start_worker(concurrency=1)
    log = str(tmp_path / "log")
    first = tasks.trigger("test-wait-for-token", {"log": log}, environment=environment)
    wait_for_status(first.id, RunStatus.WAITING)
    token = blocked_token(first.id)

    # The only worker slot is free: a second run executes to completion while the first waits.
    second = tasks.trigger("test-echo", {"second": True}, environment=environment)
    assert wait_for_status(second.id, RunStatus.COMPLETED).output == {"echo": {"second": True}}
    assert status_of(first.id) == RunStatus.WAITING

    assert token_complete(
        environment=environment, token_id=token.id, data={"approved": True}, via="api", actor="t"
    ).won
    run = wait_for_status(first.id, RunStatus.COMPLETED)
    assert run.output == {"ok": True, "output": {"approved": True}}
    # Replayed from the top, yet the journaled step ran once and only one token exists.
    assert lines(log) == ["before", "after"]
    assert Waitpoint.objects.filter(environment=environment).count() == 1


def test_timeout_resumes_the_run_with_a_not_ok_result(start_worker, environment, tmp_path):
    start_worker(beat=True)  # beat's sweeper times the token out
    log = str(tmp_path / "log")
    triggered = tasks.trigger(
        "test-wait-for-token", {"log": log, "timeout": "2s"}, environment=environment
    )
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    assert run.output["ok"] is False
    assert run.output["error"] == "WaitpointTimeoutError"
    assert lines(log) == ["before", "after"]
    assert Waitpoint.objects.get().status == WaitpointStatus.TIMED_OUT


def test_two_tokens_in_sequence_and_a_token_made_outside_the_run(start_worker, environment):
    start_worker()
    two = tasks.trigger("test-two-tokens", environment=environment)
    outside_token = token_create(environment=environment, timeout="1h").waitpoint
    outside = tasks.trigger(
        "test-outside-token", {"token": outside_token.id}, environment=environment
    )
    for data in ("one", "two"):
        wait_for_status(two.id, RunStatus.WAITING)
        token = blocked_token(two.id)
        token_complete(environment=environment, token_id=token.id, data=data, via="api", actor="t")
    assert wait_for_status(two.id, RunStatus.COMPLETED).output == ["one", "two"]

    wait_for_status(outside.id, RunStatus.WAITING)
    token_complete(
        environment=environment, token_id=outside_token.id, data={"x": 1}, via="api", actor="t"
    )
    assert wait_for_status(outside.id, RunStatus.COMPLETED).output == {"x": 1}


def test_completion_inside_the_window_before_the_block_is_recorded(
    start_worker, environment, tmp_path
):
    """The worker's seam (tasks_for_tests._complete_in_window) starts a completer while
    for_token holds the token's lock and has not recorded the block yet."""
    start_worker()
    log = str(tmp_path / "log")
    triggered = tasks.trigger(
        "test-wait-for-token", {"log": log, "title": RACE_TITLE}, environment=environment
    )
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    assert run.output == {"ok": True, "output": {"from": "racer"}}
    token = Waitpoint.objects.get()
    assert token.completed_by == "racer"
    block = RunBlock.objects.get(run_id=run.id)
    # The block was recorded first, then the completion saw it and woke the run.
    assert block.created_at <= token.completed_at <= block.resumed_at
    assert lines(log) == ["before", "after"]


def test_completion_racing_the_timeout_resumes_the_run_once(start_worker, environment, tmp_path):
    start_worker()
    log = str(tmp_path / "log")
    triggered = tasks.trigger(
        "test-wait-for-token", {"log": log, "timeout": "3s"}, environment=environment
    )
    wait_for_status(triggered.id, RunStatus.WAITING)
    token = blocked_token(triggered.id)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def racer(name, action):
        try:
            barrier.wait(timeout=10)
            results[name] = action()
        finally:
            connections.close_all()

    def complete():
        return token_complete(
            environment=environment,
            token_id=token.id,
            data={"approved": True},
            via="api",
            actor="t",
        ).won

    def sweep():
        return waitpoints_sweep_due()

    # Start both right at the deadline, so either may win.
    time.sleep(max(0.0, (token.timeout_at - timezone.now()).total_seconds() - 0.002))
    threads = [
        threading.Thread(target=racer, args=("complete", complete)),
        threading.Thread(target=racer, args=("sweep", sweep)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    token.refresh_from_db()
    if token.status == WaitpointStatus.COMPLETED:
        assert results["complete"] is True
        assert run.output == {"ok": True, "output": {"approved": True}}
    else:
        assert token.status == WaitpointStatus.TIMED_OUT and results["complete"] is False
        assert run.output["ok"] is False
    time.sleep(1)  # let any duplicate resume show itself
    assert lines(log) == ["before", "after"]
    assert RunJournalEntry.objects.filter(run_id=run.id, kind="for_token").count() == 1


def test_duplicate_execute_run_messages_resume_and_finish_once(start_worker, environment, tmp_path):
    start_worker(concurrency=2)
    log = str(tmp_path / "log")
    triggered = tasks.trigger("test-wait-for-token", {"log": log}, environment=environment)
    for _ in range(3):
        execute_run.delay(triggered.id)
    wait_for_status(triggered.id, RunStatus.WAITING)
    token = blocked_token(triggered.id)
    for _ in range(3):
        execute_run.delay(triggered.id)  # nothing to do while WAITING
    token_complete(environment=environment, token_id=token.id, data=7, via="api", actor="t")
    for _ in range(3):
        execute_run.delay(triggered.id)  # racing the wake-up's own message
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    time.sleep(1)  # give stray duplicates time to (not) act
    assert run.output == {"ok": True, "output": 7}
    assert lines(log) == ["before", "after"]
    assert Waitpoint.objects.count() == 1


def test_worker_sigkilled_mid_run_then_restarted_finishes_the_run_once(
    start_worker, environment, tmp_path
):
    log = str(tmp_path / "log")
    marker = tmp_path / "marker"
    worker = start_worker(beat=True, lease_seconds=3)
    triggered = tasks.trigger(
        "test-crash-once", {"log": log, "marker": str(marker)}, environment=environment
    )
    wait_until(marker.exists, what="the run to reach its long sleep")
    assert status_of(triggered.id) == RunStatus.EXECUTING
    worker.kill()

    start_worker(beat=True, lease_seconds=3)
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    assert run.output == {"attempt": 2}  # the lost execution counted as a failed attempt
    time.sleep(1)
    assert lines(log) == ["started", "finished"]  # the journaled step did not run again


def test_changed_call_order_fails_the_run_in_the_worker(start_worker, environment, tmp_path):
    start_worker()
    payload = {"log": str(tmp_path / "log"), "flip": str(tmp_path / "flip")}
    triggered = tasks.trigger("test-order", payload, environment=environment)
    wait_for_status(triggered.id, RunStatus.WAITING)
    (tmp_path / "flip").write_text("b first now")
    token = blocked_token(triggered.id)
    token_complete(environment=environment, token_id=token.id, data=1, via="api", actor="t")
    run = wait_for_status(triggered.id, RunStatus.FAILED)
    assert run.error["type"] == "NonDeterminismError"
    assert "wait.step('a')" in run.error["message"] and "wait.step('b')" in run.error["message"]


def test_trigger_retrieve_idempotency_and_cancel_over_the_api(start_worker, api, tmp_path):
    start_worker()
    log = str(tmp_path / "log")
    body = {"payload": {"log": log}, "options": {"idempotencyKey": "order-1", "tags": ["t"]}}
    response = api.post("/api/v1/tasks/test-wait-for-token/trigger", body, format="json")
    assert response.status_code == 200
    run_id = response.json()["id"]
    again = api.post("/api/v1/tasks/test-wait-for-token/trigger", body, format="json")
    assert again.json()["id"] == run_id

    wait_until(
        lambda: api.get(f"/api/v1/runs/{run_id}").json()["status"] == "WAITING",
        what="the run to wait",
    )
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    token_id = detail["waitingOn"][0]["id"]
    assert detail["tags"] == ["t"] and detail["idempotencyKey"] == "order-1"

    assert api.post(f"/api/v1/runs/{run_id}/cancel").json()["status"] == "CANCELED"
    completed = api.post(
        f"/api/v1/waitpoints/tokens/{token_id}/complete", {"data": {"late": True}}, format="json"
    )
    assert completed.status_code == 200
    # Prove the worker is alive and has drained its queue, then that the run never resumed.
    echo_id = api.post("/api/v1/tasks/test-echo/trigger", {"payload": 1}, format="json").json()[
        "id"
    ]
    wait_until(
        lambda: api.get(f"/api/v1/runs/{echo_id}").json()["status"] == "COMPLETED",
        what="a later run to complete",
    )
    time.sleep(1)
    final = api.get(f"/api/v1/runs/{run_id}").json()
    assert final["status"] == "CANCELED" and final["output"] is None
    assert lines(log) == ["before"]


def test_durable_sleep_resumes_when_beat_completes_it(start_worker, environment, tmp_path):
    start_worker(beat=True)
    log = str(tmp_path / "log")
    triggered = tasks.trigger("test-sleep", {"log": log, "seconds": 1}, environment=environment)
    run = wait_for_status(triggered.id, RunStatus.COMPLETED)
    assert run.output == {"slept": True}
    assert lines(log) == ["woke"]
    sleep = Waitpoint.objects.get()
    assert sleep.kind == "DATETIME"
    wait_until(
        lambda: Waitpoint.objects.get().status == WaitpointStatus.COMPLETED,
        what="the sweeper to complete the sleep",
    )


def test_a_mass_wake_resumes_every_run_once_through_chunked_messages(start_worker, environment):
    """More runs than WAKE_CHUNK_THRESHOLD woken by one completion go out in chunk messages."""
    from waitpoints.wakeups.services import WAKE_CHUNK_THRESHOLD

    start_worker(concurrency=2)
    shared = token_create(environment=environment, timeout="1h").waitpoint
    count = WAKE_CHUNK_THRESHOLD + 8
    runs = [
        tasks.trigger("test-outside-token", {"token": shared.id}, environment=environment)
        for _ in range(count)
    ]
    for run in runs:
        wait_for_status(run.id, RunStatus.WAITING)

    token_complete(
        environment=environment, token_id=shared.id, data={"go": True}, via="api", actor="t"
    )

    for run in runs:
        finished = wait_for_status(run.id, RunStatus.COMPLETED)
        assert finished.output == {"go": True}
        assert finished.attempt_count == 1
