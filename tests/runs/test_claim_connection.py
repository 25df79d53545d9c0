"""The claim of a resumed run skips Django's connection health check (a `SELECT 1` round trip,
docs/benchmarks.md P2) and instead runs again on a new connection when the old one is broken."""

from __future__ import annotations

import psycopg
import pytest
from django.db import close_old_connections, connection

from waitpoints import tasks
from waitpoints.models import Run, RunStatus
from waitpoints.runs.services.execution import run_claim

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    """Another client ends the server side of Django's connection, as a restart or a proxy
    timeout would; Django's side does not know yet."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def test_claim_on_a_broken_connection_runs_again_on_a_new_one(environment):
    triggered = tasks.trigger("test-echo", {}, environment=environment)
    pid = _backend_pid()
    close_old_connections()  # a new task begins: Django would health-check before first use
    _terminate(pid)
    execution = run_claim(run_id=triggered.id)
    assert execution is not None and execution.run.id == triggered.id
    assert Run.objects.get(id=triggered.id).status == RunStatus.EXECUTING


def test_claim_does_not_health_check_a_live_connection(environment, monkeypatch):
    triggered = tasks.trigger("test-echo", {}, environment=environment)
    close_old_connections()  # a new task begins
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    assert run_claim(run_id=triggered.id) is not None
    assert checks == []
    Run.objects.count()  # any other first query of a task is still checked
    close_old_connections()
    Run.objects.count()
    assert checks == [1]
