"""Fixtures for run tests: the test task module, and a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.runs import tasks_for_tests  # noqa: F401 (registers the test tasks in this process)

TASK_MODULE = "tests.runs.tasks_for_tests"
REPO_ROOT = Path(settings.BASE_DIR)
DEADLINE_SECONDS = 30


def wait_until(predicate: Callable[[], object], *, timeout: float = DEADLINE_SECONDS, what: str):
    """Poll until `predicate()` is truthy; fail (not hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Worker:
    """A `celery worker` subprocess against the test database and our own Redis db."""

    def __init__(
        self, tmp_path: Path, *, beat: bool, lease_seconds: float, concurrency: int, queue: str
    ):
        self.tmp_path = tmp_path
        self.queue = queue
        self.beat = beat
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.tmp_path / f"worker-{self.starts}.log"

    def start(self) -> Worker:
        self.starts += 1
        db = settings.DATABASES["default"]
        database_url = (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
        )
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "WAITPOINTS_TASK_MODULES": TASK_MODULE,
            "WAITPOINTS_RUN_LEASE_SECONDS": str(self.lease_seconds),
            "WAITPOINTS_STALLED_RUN_CHECK_SECONDS": "1",
            "CONN_MAX_AGE": "0",
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "PYTHONPATH": str(REPO_ROOT),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            f"--concurrency={self.concurrency}", "--pool=prefork", "--loglevel=INFO",
            f"--hostname=test-runs-{os.getpid()}-{self.starts}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if self.beat:
            command += ["-B", f"--schedule={self.tmp_path / 'celerybeat-schedule'}"]
        log = open(self.log_path, "w")  # noqa: SIM115 (kept open for the process's life)
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches the pool children
        )
        wait_until(
            lambda: " ready." in self.log_path.read_text() or self.process.poll() is not None,
            what="the Celery worker to start",
        )
        if self.process.poll() is not None:
            pytest.fail(f"The worker exited at start:\n{self.log_path.read_text()}")
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, no cleanup."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return "\n".join(
            (self.tmp_path / f"worker-{n}.log").read_text() for n in range(1, self.starts + 1)
        )


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start a worker: `start_worker(beat=False, lease_seconds=300, concurrency=1)`.

    This test and its workers use a queue of their own, so stray workers of other test runs on the
    same broker never take its messages (and it never takes theirs).
    """
    from config.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("worker tests need a Redis broker (CELERY_BROKER_URL=redis://...)")
    queue = f"waitpoints-test-{uuid.uuid4().hex[:12]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    workers: list[Worker] = []

    def start(*, beat: bool = False, lease_seconds: float = 300, concurrency: int = 1) -> Worker:
        worker = Worker(
            tmp_path,
            beat=beat,
            lease_seconds=lease_seconds,
            concurrency=concurrency,
            queue=queue,
        ).start()
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        app.conf.task_default_queue = previous_queue
        _delete_queue(queue)
        if os.environ.get("SHOW_WORKER_LOG"):
            for worker in workers:
                print(worker.log())


def _delete_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    keys += [f"{queue}\x06\x16{priority}" for priority in range(10)]  # kombu's priority lists
    client.delete(*keys)
