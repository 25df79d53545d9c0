"""No single point of failure: two real beats send every periodic task, and each due token still
times out exactly once (one TIMED_OUT, one audit row); after one beat is killed the other keeps
timing tokens out. Plus the advisory lock each periodic task runs under."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests import processes
from tests.processes import Process, wait_until
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.ops.leader import exclusive
from waitpoints.tokens.services.create import token_create

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only("the periodic tasks' advisory locks are PostgreSQL's"),
]


def test_exclusive_admits_one_holder_at_a_time():
    inside = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def hold() -> None:
        from django.db import connections

        with exclusive("test-lock") as leader:
            seen.append(leader)
            inside.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    with exclusive("test-lock") as leader:
        assert leader is False  # the other connection holds it
    release.set()
    holder.join(10)
    with exclusive("test-lock") as leader:
        assert leader is True  # released at the end of the block
    assert seen == [True]


def start_beat(log_dir, queue: str, number: int) -> Process:
    beat = Process(
        f"beat{number}",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            f"--schedule={log_dir / f'beat-schedule-{number}'}",
        ],  # fmt: skip
        log_dir,
        env={**processes.django_environment(), "CELERY_TASK_DEFAULT_QUEUE": queue},
    )
    return beat.start(
        ready=lambda: "Sending due task expire-due-waitpoints" in beat.log(),
        what=f"beat {number} to send the sweep",
    )


@pytest.fixture
def queue():
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://", "pyamqp://")):
        pytest.skip("needs a Redis or RabbitMQ broker (CELERY_BROKER_URL)")
    name = f"waitpoints-test-{uuid.uuid4().hex[:12]}"
    yield name
    processes.delete_queue(settings.CELERY_BROKER_URL, name)


def due_tokens(environment, count: int, spread_seconds: float) -> list[str]:
    start = timezone.now() + timedelta(seconds=1)
    return [
        token_create(
            environment=environment,
            timeout=start + timedelta(seconds=spread_seconds * i / count),
        ).waitpoint.id
        for i in range(count)
    ]


def assert_timed_out_once(ids: list[str]) -> None:
    def all_timed_out() -> bool:
        return Waitpoint.objects.filter(
            id__in=ids, status=WaitpointStatus.TIMED_OUT
        ).count() == len(ids)

    wait_until(all_timed_out, timeout=90, what=f"{len(ids)} tokens to time out")
    audits = AuditEvent.objects.filter(waitpoint_id__in=ids, action=AuditEvent.Action.TIMED_OUT)
    per_token = {token_id: 0 for token_id in ids}
    for token_id in audits.values_list("waitpoint_id", flat=True):
        per_token[token_id] += 1
    assert set(per_token.values()) == {1}, per_token


@pytest.mark.slow
@pytest.mark.worker
def test_two_beats_time_out_each_token_once_and_survive_a_killed_beat(tmp_path, environment, queue):
    env = {**processes.django_environment(), "CELERY_TASK_DEFAULT_QUEUE": queue}
    workers = [
        processes.start_celery_worker(
            tmp_path, queue=queue, task_modules="", concurrency=2, env=env
        )
        for _ in range(2)
    ]
    beats = [start_beat(tmp_path, queue, number) for number in (1, 2)]
    try:
        started = time.monotonic()
        ids = due_tokens(environment, 40, spread_seconds=20)
        assert_timed_out_once(ids)
        # Both beats sent the sweep all along (each about every half second).
        while time.monotonic() - started < 25:
            time.sleep(0.5)
        for beat in beats:
            assert beat.running(), beat.log()[-2000:]
            assert beat.log().count("Sending due task expire-due-waitpoints") > 20

        beats[0].kill()  # a crash: no goodbye
        ids = due_tokens(environment, 10, spread_seconds=3)
        assert_timed_out_once(ids)
    finally:
        for process in beats + workers:
            process.stop()
    for worker in workers:
        assert "Traceback" not in worker.log(), worker.log()[-3000:]
    connection.close()
