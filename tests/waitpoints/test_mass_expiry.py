"""A mass expiry's write path (docs/benchmarks.md, P4): resuming a block is a HOT update, and the
wake, which finds blocks through the full `waitpoint` index now, still resumes each block once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import WaitpointFactory
from waitpoints.models import Run, RunBlock, RunStatus, WaitpointStatus
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.wakeups.services import wake_runs_blocked_on

pytestmark = pytest.mark.django_db


def due_token_with_blocked_run(environment) -> tuple[str, Run]:
    token = WaitpointFactory(environment=environment, timeout_at=timezone.now() - timedelta(1))
    run = Run.objects.create(environment=environment, task_id="t", status=RunStatus.WAITING)
    RunBlock.objects.create(run=run, waitpoint=token)
    return token.id, run


@pytest.mark.postgres_only("HOT updates and fillfactor are PostgreSQL's")
def test_resuming_a_block_is_a_hot_update(environment):
    _, run = due_token_with_blocked_run(environment)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [RunBlock._meta.db_table]
        )
        assert cursor.fetchone()[0] == ["fillfactor=50"]

        def updates():  # this backend's counts not yet flushed to the statistics: a difference
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
                "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
                [RunBlock._meta.db_table] * 2,
            )
            return cursor.fetchone()

        before = updates()
        assert waitpoints_sweep_due() == 1
        after = updates()
    # One block resumed, heap-only: no index entry was written for it.
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    block = RunBlock.objects.get(run=run)
    assert block.resumed_at is not None
    assert block.waitpoint.status == WaitpointStatus.TIMED_OUT
    assert Run.objects.get(id=run.id).status == RunStatus.QUEUED


def test_the_wake_resumes_only_blocks_not_resumed_yet(environment):
    token_id, run = due_token_with_blocked_run(environment)
    resumed_at = timezone.now() - timedelta(hours=1)
    RunBlock.objects.filter(run=run).update(resumed_at=resumed_at)
    other = Run.objects.create(environment=environment, task_id="t", status=RunStatus.WAITING)
    RunBlock.objects.create(run=other, waitpoint_id=token_id)

    assert wake_runs_blocked_on([token_id]) == [other.id]
    assert wake_runs_blocked_on([token_id]) == []
    assert RunBlock.objects.get(run=run).resumed_at == resumed_at
    assert RunBlock.objects.get(run=other).resumed_at is not None
    assert Run.objects.get(id=run.id).status == RunStatus.WAITING  # resumed before: left alone
