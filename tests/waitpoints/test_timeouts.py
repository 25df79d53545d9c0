"""Timeouts: derived on read before the sweeper runs, swept by beat, never beaten by a late completion."""

import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tests.concurrency import run_concurrently
from tests.factories import WaitpointFactory
from tests.helpers import TOKENS
from tests.processes import wait_until
from waitpoints.models import AuditEvent, Waitpoint, WaitpointKind, WaitpointStatus, timeout_error
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import sleep_create, token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due


def make_overdue(token_id: str) -> Waitpoint:
    """Move the deadline into the past (time passing, without waiting or mocking the clock)."""
    Waitpoint.objects.filter(id=token_id).update(
        timeout_at=timezone.now() - timedelta(milliseconds=5)
    )
    return Waitpoint.objects.get(id=token_id)


def expected_error(waitpoint: Waitpoint) -> dict:
    stamp = waitpoint.timeout_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"name": "WaitpointTimeoutError", "message": f"Waitpoint timed out at {stamp}"}


@pytest.mark.django_db
def test_reads_past_the_deadline_say_timed_out_before_the_sweeper_runs(api):
    from waitpoints import wait

    token = api.post(TOKENS, {"timeout": "1h"}, format="json").json()
    waitpoint = make_overdue(token["id"])

    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["status"] == "TIMED_OUT"
    assert body["outputIsError"] is True
    assert body["output"] == body["error"] == expected_error(waitpoint)
    assert body["completedAt"] == body["timeoutAt"]
    listed = api.get(TOKENS, {"filter[status]": "TIMED_OUT"}).json()["data"]
    assert [item["id"] for item in listed] == [token["id"]]
    assert api.get(TOKENS, {"filter[status]": "WAITING"}).json()["data"] == []
    assert wait.retrieve_token(token["id"], environment="prod").status == "TIMED_OUT"
    # Nothing was written by the reads: the sweeper still has work to do.
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING

    assert waitpoints_sweep_due() == 1
    after = api.get(f"{TOKENS}/{token['id']}").json()
    assert after == body  # the sweeper changes nothing a reader can see
    stored = Waitpoint.objects.get(id=token["id"])
    assert (stored.status, stored.completed_via, stored.output_is_error) == (
        "TIMED_OUT",
        "timeout",
        True,
    )


@pytest.mark.django_db
def test_completion_after_the_deadline_cannot_win(api):
    token = api.post(TOKENS, {"timeout": "1h"}, format="json").json()
    make_overdue(token["id"])
    response = api.post(f"{TOKENS}/{token['id']}/complete", {"data": "late"}, format="json")
    assert response.json() == {"success": True}
    stored = Waitpoint.objects.get(id=token["id"])
    assert (stored.status, stored.output, stored.completed_via) == ("TIMED_OUT", None, "timeout")
    assert list(AuditEvent.objects.filter(waitpoint=stored).values_list("action", flat=True)) == [
        "timed_out"
    ]
    assert waitpoints_sweep_due() == 0


@pytest.mark.django_db
def test_sweeper_times_out_tokens_and_completes_sleeps_in_batches(environment):
    now = timezone.now()
    due = [
        WaitpointFactory(environment=environment, timeout_at=now - timedelta(seconds=i))
        for i in range(25)
    ]
    later = WaitpointFactory(environment=environment, timeout_at=now + timedelta(hours=1))
    done = WaitpointFactory(
        environment=environment, timeout_at=now - timedelta(hours=1), status="COMPLETED", output=1
    )
    sleep = sleep_create(environment=environment, until=now - timedelta(seconds=1))

    assert waitpoints_sweep_due(batch_size=10) == 26
    assert waitpoints_sweep_due(batch_size=10) == 0

    for waitpoint in Waitpoint.objects.filter(id__in=[w.id for w in due]):
        assert waitpoint.status == WaitpointStatus.TIMED_OUT
        assert waitpoint.result_output == timeout_error(waitpoint.timeout_at)
    assert AuditEvent.objects.filter(action="timed_out").count() == 25
    assert Waitpoint.objects.get(id=later.id).status == WaitpointStatus.WAITING
    assert Waitpoint.objects.get(id=done.id).output == 1
    sleep.refresh_from_db()
    assert (sleep.kind, sleep.status, sleep.output_is_error) == (
        WaitpointKind.DATETIME,
        WaitpointStatus.COMPLETED,
        False,
    )


@pytest.mark.postgres_only(
    "SKIP LOCKED passes over a row a completer holds; SQLite locks the whole database, so the "
    "sweeper waits for the completer's transaction (the test's own: database is locked after 20 s)"
)
@pytest.mark.django_db(transaction=True)
def test_sweeper_skips_a_token_a_completer_holds_and_never_blocks(environment):
    token = token_create(environment=environment, timeout="1h").waitpoint
    with transaction.atomic():
        # A completer holds the row lock (mid-transaction) while the deadline passes.
        token_complete(
            environment=environment, token_id=token.id, data="mine", via="api", actor="t"
        )
        [swept] = run_concurrently(
            [lambda: waitpoints_sweep_due(now=timezone.now() + timedelta(hours=2))]
        )
        assert swept == 0
    assert waitpoints_sweep_due(now=timezone.now() + timedelta(hours=2)) == 0
    stored = Waitpoint.objects.get(id=token.id)
    assert (stored.status, stored.output) == (WaitpointStatus.COMPLETED, "mine")


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_time_each_token_out_once(environment):
    now = timezone.now()
    for i in range(300):
        WaitpointFactory(environment=environment, timeout_at=now - timedelta(milliseconds=i))
    counts = run_concurrently([lambda: waitpoints_sweep_due(batch_size=20)] * 3)
    assert sum(counts) == 300
    assert AuditEvent.objects.filter(action="timed_out").count() == 300
    assert not Waitpoint.objects.filter(status=WaitpointStatus.WAITING).exists()


@pytest.mark.django_db(transaction=True)
def test_completions_racing_the_sweeper_leave_exactly_one_final_state(environment):
    ids = [token_create(environment=environment, timeout="1h").waitpoint.id for _ in range(40)]
    # The deadline is set once all 40 exist: their 40 commits can take longer than the lead
    # time where a commit waits for the disk (SQLite's default journal fsyncs each one).
    deadline = timezone.now() + timedelta(milliseconds=400)
    Waitpoint.objects.filter(id__in=ids).update(timeout_at=deadline)

    def completer(seed):
        def run():
            order = ids[:]
            random.Random(seed).shuffle(order)
            while timezone.now() < deadline - timedelta(milliseconds=60):
                time.sleep(0.005)
            for token_id in order:
                token_complete(
                    environment=environment,
                    token_id=token_id,
                    data={"by": seed},
                    via="api",
                    actor=f"c{seed}",
                )

        return run

    def sweeper():
        stop = deadline + timedelta(seconds=10)
        while (
            Waitpoint.objects.filter(id__in=ids, status="WAITING").exists()
            and timezone.now() < stop
        ):
            waitpoints_sweep_due()
            time.sleep(0.002)

    run_concurrently([completer(n) for n in range(4)] + [sweeper, sweeper])

    outcomes = {"COMPLETED": 0, "TIMED_OUT": 0}
    for waitpoint in Waitpoint.objects.filter(id__in=ids):
        events = list(AuditEvent.objects.filter(waitpoint=waitpoint).exclude(action="created"))
        assert len(events) == 1, (waitpoint.id, [e.action for e in events])
        outcomes[waitpoint.status] += 1
        if waitpoint.status == WaitpointStatus.COMPLETED:
            assert events[0].action == "completed"
            assert waitpoint.output == events[0].data and waitpoint.output_is_error is False
            assert waitpoint.completed_at < waitpoint.timeout_at
        else:
            assert waitpoint.status == WaitpointStatus.TIMED_OUT
            assert events[0].action == "timed_out"
            assert (waitpoint.output, waitpoint.output_is_error) == (None, True)
            assert waitpoint.completed_at == waitpoint.timeout_at
            assert events[0].created_at >= waitpoint.timeout_at
    print("race outcomes:", outcomes)


# --- The real beat schedule in a worker process ---------------------------------------------------


@pytest.mark.worker
def test_one_second_timeout_is_swept_by_the_beat_schedule_in_a_worker(
    start_worker, environment, api
):
    worker = start_worker(beat=True)

    def with_worker_log(what: str):
        return lambda: f"{what}; worker log:\n{worker.log()[-3000:]}"

    # The worker is up once beat has swept an already-due sentinel token.
    sentinel = WaitpointFactory(
        environment=environment, timeout_at=timezone.now() - timedelta(seconds=1)
    )
    wait_until(
        lambda: Waitpoint.objects.get(id=sentinel.id).status == WaitpointStatus.TIMED_OUT,
        timeout=90,
        what=with_worker_log("the worker and beat to start"),
    )

    token = api.post(TOKENS, {"timeout": "1s"}, format="json").json()
    timeout_at = Waitpoint.objects.get(id=token["id"]).timeout_at

    def swept():
        asked_at = timezone.now()  # before the request: the server's clock is later still
        read = api.get(f"{TOKENS}/{token['id']}").json()
        if asked_at >= timeout_at:
            assert read["status"] == "TIMED_OUT", "a read past the deadline said WAITING"
        stored = Waitpoint.objects.get(id=token["id"])
        return stored if stored.status == WaitpointStatus.TIMED_OUT else None

    stored = wait_until(swept, what=with_worker_log("the sweeper to time the token out"))
    assert worker.running()
    assert stored.completed_via == "timeout" and stored.output_is_error is True
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["status"] == "TIMED_OUT"
    assert body["outputIsError"] is True
    assert body["error"] == body["output"] == expected_error(stored)
    assert stored.completed_at == stored.timeout_at
    swept_at = AuditEvent.objects.get(waitpoint=stored, action="timed_out").created_at
    lag = (swept_at - stored.timeout_at).total_seconds()
    print(
        f"swept {lag:.2f}s after the deadline, {(swept_at - stored.created_at).total_seconds():.2f}s after create"
    )
    assert "sweep_due_waitpoints" in worker.log()


def test_the_beat_sweep_interval_is_read_from_the_environment():
    """WAITPOINTS_SWEEP_INTERVAL_SECONDS is the schedule beat runs (read by a fresh process)."""
    script = (
        "from config.celery import app; "
        "print(app.conf.beat_schedule['expire-due-waitpoints']['schedule'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "WAITPOINTS_SWEEP_INTERVAL_SECONDS": "0.1",
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["0.1"]


@pytest.mark.parametrize("interval", ["0", "-1", "3600"])
def test_an_unusable_sweep_interval_refuses_to_start_with_a_clear_error(interval):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "WAITPOINTS_SWEEP_INTERVAL_SECONDS": interval,
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "WAITPOINTS_SWEEP_INTERVAL_SECONDS must be between 0.05 and 60" in out.stderr
