"""The completion outside a caller's transaction (PostgreSQL): completion, audit, webhook events
and the wake of its runs committed in one round trip (`tokens.sql.complete_and_wake`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.runs.tasks_for_tests import RACE_TITLE, lines
from waitpoints import tasks
from waitpoints.models import AuditEvent, Run, RunBlock, RunStatus, Waitpoint, WaitpointStatus
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.tokens.services.complete import token_complete

pytestmark = [
    pytest.mark.postgres_only("psycopg's pipeline mode is PostgreSQL's"),
    # Outside a transaction, as the API, the callback and the dashboard call it.
    pytest.mark.django_db(transaction=True),
]


def waiting_run(environment, tmp_path, **payload) -> tuple[Run, Waitpoint]:
    triggered = tasks.trigger(
        "test-wait-for-token", {"log": str(tmp_path / "log"), **payload}, environment=environment
    )
    assert run_execute(run_id=triggered.id) == "WAITING"
    block = RunBlock.objects.select_related("waitpoint").get(run_id=triggered.id)
    return Run.objects.get(id=triggered.id), block.waitpoint


def complete(environment, token_id, data):
    return token_complete(
        environment=environment, token_id=token_id, data=data, via="api", actor="t"
    )


def test_completion_commits_and_wakes_its_run_without_a_statement_of_its_own(environment, tmp_path):
    run, token = waiting_run(environment, tmp_path)
    assert not connection.in_atomic_block

    with CaptureQueriesContext(connection) as queries:
        assert complete(environment, token.id, {"approved": True}).won
    # Everything went out in the one pipelined round trip, past Django's cursor.
    assert queries.captured_queries == []

    token.refresh_from_db()
    assert token.status == WaitpointStatus.COMPLETED and token.output == {"approved": True}
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.lease_expires_at is not None
    assert RunBlock.objects.get(run=run).resumed_at is not None
    assert run_execute(run_id=run.id) == "COMPLETED"
    run.refresh_from_db()
    assert run.output == {"ok": True, "output": {"approved": True}}

    # A second completion finds it finished: nothing changes, nothing is woken again.
    assert not complete(environment, token.id, {"approved": False}).won
    token.refresh_from_db()
    assert token.output == {"approved": True}
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1
    assert Run.objects.get(id=run.id).status == RunStatus.COMPLETED


def test_an_overdue_token_is_timed_out_once_and_its_run_woken(environment, tmp_path):
    run, token = waiting_run(environment, tmp_path)
    Waitpoint.objects.filter(id=token.id).update(timeout_at=timezone.now() - timedelta(seconds=1))

    assert not complete(environment, token.id, {"late": True}).won
    token.refresh_from_db()
    assert token.status == WaitpointStatus.TIMED_OUT and token.output is None
    assert list(AuditEvent.objects.filter(waitpoint=token).values_list("action", flat=True)) == [
        "timed_out"
    ]
    assert Run.objects.get(id=run.id).status == RunStatus.QUEUED


def test_a_token_of_another_environment_is_not_completed_and_its_run_not_woken(
    environment, other_environment, tmp_path
):
    run, token = waiting_run(environment, tmp_path)
    with pytest.raises(Exception, match="not found"):
        complete(other_environment, token.id, {"x": 1})
    assert Waitpoint.objects.get(id=token.id).status == WaitpointStatus.WAITING
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert RunBlock.objects.get(run=run).resumed_at is None


def test_a_completion_waiting_on_the_row_lock_wakes_the_block_committed_meanwhile(
    environment, tmp_path
):
    """The race seam (tasks_for_tests._complete_in_window) completes from another thread while
    `for_token` holds the token's lock and has not recorded the block yet: the completer's
    UPDATE waits, and its wake, a statement of its own, sees the block committed meanwhile."""
    from tests.runs.tasks_for_tests import _RACERS

    triggered = tasks.trigger(
        "test-wait-for-token",
        {"log": str(tmp_path / "log"), "title": RACE_TITLE},
        environment=environment,
    )
    assert run_execute(run_id=triggered.id) == "WAITING"
    for racer in _RACERS:
        racer.join(timeout=10)
    _RACERS.clear()

    token = Waitpoint.objects.get(environment=environment)
    assert token.completed_by == "racer"
    block = RunBlock.objects.get(run_id=triggered.id)
    assert block.created_at <= token.completed_at <= block.resumed_at
    assert Run.objects.get(id=triggered.id).status == RunStatus.QUEUED
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert lines(str(tmp_path / "log")) == ["before", "after"]


@pytest.fixture
def failing_audit():
    """A real database error inside the pipelined transaction: audit rows are refused."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON waitpoints_auditevent "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse_audit ON waitpoints_auditevent")
        cursor.execute("DROP FUNCTION test_refuse_audit()")


def test_a_failed_completion_changes_nothing_and_leaves_the_connection_usable(
    environment, tmp_path, failing_audit
):
    run, token = waiting_run(environment, tmp_path)

    with pytest.raises(DatabaseError, match="audit refused"):
        complete(environment, token.id, {"approved": True})

    # The same connection: its transaction was rolled back, not left open and aborted.
    assert connection.connection.info.transaction_status.name == "IDLE"
    token.refresh_from_db()
    assert token.status == WaitpointStatus.WAITING and token.output is None
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING
    assert RunBlock.objects.get(run=run).resumed_at is None
