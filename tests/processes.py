"""Real processes for the tests that need them: a Celery worker, gunicorn, redis-server and
RabbitMQ.

Each runs in a process group of its own against the test database pytest-django created, logs
to a file of its own, and is stopped (or killed, like a crash) as a whole group.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent
DEADLINE_SECONDS = 30

_worker_numbers = itertools.count(1)


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float = DEADLINE_SECONDS,
    what: str | Callable[[], str],
):
    """Poll until `predicate()` is truthy; fail (not hang) after `timeout` seconds.

    `what` may be a callable, to describe the state at the moment of failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"Timed out after {timeout}s waiting for {what() if callable(what) else what}"
            )
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def django_environment() -> dict[str, str]:
    """What a Django process needs to share this test's database and broker.

    Its DATABASE_URL names the test database pytest-django created, not the configured one."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        # A file (tests/conftest.py makes the embedded test database one), as `make run` has.
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    return {"DATABASE_URL": database_url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}


class Process:
    """A subprocess in a process group of its own, logging to `<log_dir>/<name>-<n>.log`."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict | None = None):
        self.name, self.command = name, command
        self.env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
        # A restarted server gets a new log, so the log of the one it replaces stays readable.
        number = 1
        while (log_dir / f"{name}-{number}.log").exists():
            number += 1
        self.log_path = log_dir / f"{name}-{number}.log"
        self.process: subprocess.Popen | None = None

    def start(self, *, ready: Callable[[], object], what: str) -> Process:
        """Start, then wait until `ready()`; fail with the log if the process exits first."""
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children
            )

        def started() -> object:
            if not self.running():
                pytest.fail(f"{self.name} exited at start:\n{self.log()}")
            return ready()

        try:
            wait_until(started, what=what)
        except BaseException:
            self.stop()  # never leave a half-started process behind
            raise
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, no cleanup."""
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def start_celery_worker(
    log_dir: Path,
    *,
    queue: str,
    task_modules: str,
    beat: bool = False,
    lease_seconds: float = 300,
    concurrency: int = 1,
    env: dict | None = None,
) -> Process:
    """`celery worker` (with beat if asked) on the test database, taking work from `queue` only."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        f"--concurrency={concurrency}", "--pool=prefork", "--loglevel=INFO",
        f"--hostname=test-{os.getpid()}-{next(_worker_numbers)}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    if beat:
        command += ["-B", f"--schedule={log_dir / 'celerybeat-schedule'}"]
    worker = Process(
        "worker",
        command,
        log_dir,
        env={
            **django_environment(),
            "WAITPOINTS_TASK_MODULES": task_modules,
            "WAITPOINTS_RUN_LEASE_SECONDS": str(lease_seconds),
            "WAITPOINTS_STALLED_RUN_CHECK_SECONDS": "1",
            "CONN_MAX_AGE": "0",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            **(env or {}),
        },
    )
    return worker.start(ready=lambda: " ready." in worker.log(), what="the Celery worker to start")


def start_gunicorn(log_dir: Path, *, env: dict | None = None, workers: int = 2) -> tuple:
    """gunicorn serving config.wsgi against the test database; returns (process, base URL)."""
    import requests

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = Process(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--threads=4",
            "--worker-class=gthread",
            "--timeout=30",
            "--graceful-timeout=2",
        ],  # fmt: skip
        log_dir,
        env={
            **django_environment(),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WAITPOINTS_PUBLIC_URL": base_url,
            **(env or {}),
        },
    )

    def serving() -> bool:
        # One request at a time: a probe that gave up while the workers were still loading would
        # leave requests queued, answered together, and drf-spectacular's first schema build is
        # not thread-safe (a 500 in the log; drf-spectacular issue #1122).
        try:
            answer = requests.get(f"{base_url}/api/schema/", timeout=DEADLINE_SECONDS)
            return answer.status_code == 200
        except requests.RequestException:
            return False

    return server.start(ready=serving, what="gunicorn to serve"), base_url


def start_redis(log_dir: Path, port: int | None = None) -> tuple:
    """A throwaway redis-server (no persistence) on a free port; returns (process, port)."""
    import redis

    port = port or free_port()
    server = Process(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],  # fmt: skip
        log_dir,
    )

    def answering() -> bool:
        try:
            return redis.Redis(port=port, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    return server.start(ready=answering, what="redis-server to answer"), port


def start_rabbitmq(data_dir: Path, port: int | None = None) -> tuple:
    """A RabbitMQ node of this test's own on a free port, its state in `data_dir`; returns
    (process, port). Started again with the same `data_dir` and port, it is the same node: its
    durable queues and the persistent messages in them come back. About 10 s to start."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "rabbitmq.conf"
    config.write_text(f"listeners.tcp.default = 127.0.0.1:{port}\n")
    (data_dir / "enabled_plugins").write_text("[].\n")
    server = Process(
        "rabbitmq",
        ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
        data_dir,
        env={
            "HOME": str(data_dir),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"waitpoints-test-{port}@localhost",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(data_dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(data_dir / "log"),
            "RABBITMQ_PID_FILE": str(data_dir / "rabbitmq.pid"),
        },
    )

    def answering() -> bool:
        from kombu import Connection

        try:
            with Connection(f"amqp://guest:guest@127.0.0.1:{port}//", connect_timeout=1) as conn:
                conn.connect()
            return True
        except Exception:  # noqa: BLE001 (refused, reset, still booting: not yet)
            return False

    return server.start(ready=answering, what="rabbitmq-server to answer"), port


def delete_redis_queue(broker_url: str, queue: str) -> None:
    """Remove a test's queue (and kombu's bindings and priority lists of it) from the broker."""
    import redis

    client = redis.Redis.from_url(broker_url)
    keys = [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    keys += [f"{queue}\x06\x16{priority}" for priority in range(10)]  # kombu's priority lists
    client.delete(*keys)


def delete_amqp_queue(broker_url: str, queue: str) -> None:
    """Remove a test's queue and the direct exchange Celery declared for it from RabbitMQ.

    Both are durable: left alone they would outlive the test (and keep any message in them)."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as conn:
        channel = conn.default_channel
        channel.queue_delete(queue)  # idempotent on RabbitMQ: a missing queue is not an error
        channel.exchange_delete(queue)


def delete_queue(broker_url: str, queue: str) -> None:
    """Remove a test's queue from a Redis or RabbitMQ broker (the filesystem one needs nothing)."""
    if broker_url.startswith(("redis://", "rediss://")):
        delete_redis_queue(broker_url, queue)
    elif broker_url.startswith(("amqp://", "pyamqp://", "amqps://")):
        delete_amqp_queue(broker_url, queue)
