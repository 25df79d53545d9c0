"""Real server processes for the adversarial tests: gunicorn (the API as in production), and
redis-server (a broker of our own that a test may kill). Each is killed in teardown."""

from __future__ import annotations

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


def test_database_url() -> str:
    """The URL of the test database pytest-django created (not the configured one)."""
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"
    )


test_database_url.__test__ = False  # not a test, despite the name


class Process:
    """A subprocess in its own process group, logging to a file; stop() always reaps it."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict | None = None):
        self.name, self.command, self.log_dir = name, command, log_dir
        self.env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self) -> Process:
        self.starts += 1
        log = open(self.log_path, "w")  # noqa: SIM115 (kept open for the process's life)
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach its children
        )
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
        return "\n".join(
            (self.log_dir / f"{self.name}-{n}.log").read_text()
            for n in range(1, self.starts + 1)
            if (self.log_dir / f"{self.name}-{n}.log").exists()
        )


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
            "DATABASE_URL": test_database_url(),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "WAITPOINTS_PUBLIC_URL": base_url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            **(env or {}),
        },
    ).start()

    def ready():
        if not server.running():
            pytest.fail(f"gunicorn exited at start:\n{server.log()}")
        try:
            return requests.get(f"{base_url}/api/schema/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(ready, what="gunicorn to serve")
    except BaseException:
        server.stop()  # never leave a half-started server behind
        raise
    return server, base_url


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
    ).start()

    def ready():
        if not server.running():
            pytest.fail(f"redis-server exited at start:\n{server.log()}")
        try:
            return redis.Redis(port=port, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    try:
        wait_until(ready, what="redis-server to answer")
    except BaseException:
        server.stop()
        raise
    return server, port
