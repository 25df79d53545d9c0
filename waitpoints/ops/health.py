"""Liveness and readiness: is this process answering, can it reach the database and the broker.

`/healthz` needs nothing (a load balancer restarts a process that stops answering it);
`/readyz` checks both dependencies at once, each within WAITPOINTS_READINESS_TIMEOUT_SECONDS, so
a hung database or broker answers 503 in about that time, not after a TCP timeout.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from kombu import Connection

from waitpoints.conf import waitpoints_settings

logger = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def check_database() -> None:
    """One `SELECT 1` on a connection of this thread (closed after: the check runs in a thread)."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def broker_connection(timeout: float) -> Connection:
    """A kombu connection to the configured broker (redis, amqp, or the filesystem transport)."""
    url = settings.CELERY_BROKER_URL
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT", None)
    if url.startswith("redis"):
        options.setdefault("socket_connect_timeout", timeout)
        options.setdefault("socket_timeout", timeout)
    if transport and url.startswith("filesystem"):
        url = None  # our atomic filesystem transport, with its folders
    return Connection(url, transport=transport, transport_options=options, connect_timeout=timeout)


def check_broker(timeout: float) -> None:
    """Connect once (no retry loop beyond one attempt) and, for redis, ping."""
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        for folder in {options.get("data_folder_in"), options.get("data_folder_out")} - {None}:
            if not os.access(folder, os.W_OK):
                raise OSError(f"broker folder {folder} is not writable")
    with broker_connection(timeout) as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout
        )
        # Virtual transports (redis, filesystem) open a channel: redis pings the server there.
        connection.default_channel  # noqa: B018


def readiness() -> dict[str, dict[str, str]]:
    """{"database": {"status": "ok"}, "broker": {"status": "failed", "error": "…"}}.

    Both are checked at once, each in a thread of its own; one that has not answered by the
    deadline is failed (its thread is left to finish on its own)."""
    timeout = waitpoints_settings.readiness_timeout_seconds
    checks: dict[str, Callable[[], None]] = {
        "database": check_database,
        "broker": lambda: check_broker(timeout),
    }
    errors: dict[str, str | None] = {}

    def run(name: str, check: Callable[[], None]) -> None:
        try:
            check()
            errors[name] = None
        except Exception as exc:  # a failed dependency is an answer, not an error
            # The answer names the exception only (the probe is public); the log has the rest.
            errors[name] = type(exc).__name__
            logger.warning("Readiness: the %s check failed: %r", name, exc)

    threads = [
        threading.Thread(target=run, args=item, daemon=True, name=f"readiness-{item[0]}")
        for item in checks.items()
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return {
        name: {"status": "ok"}
        if name in errors and errors[name] is None
        else {"status": "failed", "error": errors.get(name) or f"no answer within {timeout:g} s"}
        for name in checks
    }


class QuietProbes(logging.Filter):
    """Drop log records about probe requests (a 503 from /readyz every few seconds during an
    outage would bury the log lines that explain it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None) or getattr(record, "path", None)
        return path not in PROBE_PATHS
