"""Retention: exactly the old finished rows go (with what hangs off them), nothing waiting,
nothing recent; `manage.py purge --dry-run` counts without deleting."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from waitpoints.models import (
    AuditEvent,
    CompletionVia,
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointStatus,
    WaitpointTag,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from waitpoints.ops import retention
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=40)


def token(environment, *, finished: bool, age: timedelta, tags=("a", "b")) -> Waitpoint:
    created_at = timezone.now() - age
    waitpoint = token_create(
        environment=environment, timeout="1h", tags=list(tags), now=created_at
    ).waitpoint
    if finished:
        token_complete(
            environment=environment, token_id=waitpoint.id, data=1, via=CompletionVia.API, actor=""
        )
        Waitpoint.objects.filter(id=waitpoint.id).update(completed_at=created_at)
        AuditEvent.objects.filter(waitpoint=waitpoint).update(created_at=created_at)
    return waitpoint


def run(environment, status: str, age: timedelta, waitpoint: Waitpoint | None = None) -> Run:
    at = timezone.now() - age
    finished = status in retention.FINISHED_RUN_STATUSES
    the_run = Run.objects.create(
        environment=environment,
        task_id="t",
        status=status,
        created_at=at,
        finished_at=at if finished else None,
    )
    RunJournalEntry.objects.create(run=the_run, sequence=1, kind="step", result=1, created_at=at)
    if waitpoint is not None:
        RunBlock.objects.create(run=the_run, waitpoint=waitpoint, created_at=at, resumed_at=at)
    return the_run


@pytest.fixture
def world(environment, other_environment):
    day = timedelta(days=1)
    old = [token(environment, finished=True, age=40 * day) for _ in range(5)]
    old += [token(other_environment, finished=True, age=35 * day, tags=())]
    # An old token that timed out: the sweep finishes it (its deadline is long past).
    timed_out = token_create(
        environment=environment, timeout="1h", now=timezone.now() - 40 * day
    ).waitpoint
    waitpoints_sweep_due()
    Waitpoint.objects.filter(id=timed_out.id).update(completed_at=timezone.now() - 39 * day)
    old.append(timed_out)
    keep = [
        token(environment, finished=True, age=2 * day),
        # Created long ago, still waiting (a 4-week timeout): kept.
        token_create(
            environment=environment, timeout="8w", now=timezone.now() - 40 * day
        ).waitpoint,
    ]
    # Created long ago, finished recently: kept.
    late = token(environment, finished=True, age=40 * day)
    Waitpoint.objects.filter(id=late.id).update(completed_at=timezone.now() - day)
    keep.append(late)
    old_runs = [run(environment, status, 40 * day) for status in retention.FINISHED_RUN_STATUSES]
    old_runs.append(run(environment, RunStatus.COMPLETED, 40 * day, waitpoint=old[0]))
    keep_runs = [
        run(environment, RunStatus.WAITING, 40 * day, waitpoint=keep[1]),
        run(environment, RunStatus.COMPLETED, 2 * day),
    ]
    endpoint = WebhookEndpoint.objects.create(
        environment=environment, url="https://example.com/h", events=[], secret="whsec_x"
    )
    deliveries = {
        status: WebhookDelivery.objects.create(
            endpoint=endpoint, event_type="waitpoint.completed", status=status, created_at=OLD
        )
        for status in WebhookDeliveryStatus.values
    }
    return {
        "old": old,
        "keep": keep,
        "old_runs": old_runs,
        "keep_runs": keep_runs,
        "deliveries": deliveries,
    }


def test_purge_deletes_exactly_the_old_finished_rows(world):
    tags_before = WaitpointTag.objects.count()
    dry = retention.purge(older_than=timedelta(days=30), dry_run=True)
    assert Waitpoint.objects.count() == 10  # nothing deleted by a dry run
    counts = retention.purge(older_than=timedelta(days=30), batch_size=2)
    assert counts == dry
    assert counts["tokens"] == 7
    assert counts["token tags"] == 10  # five tokens with two tags each
    assert counts["runs"] == 4
    assert counts["run journal entries"] == 4
    assert counts["webhook deliveries"] == 2
    assert set(Waitpoint.objects.values_list("id", flat=True)) == {w.id for w in world["keep"]}
    assert WaitpointTag.objects.count() == tags_before - 10
    assert not AuditEvent.objects.filter(waitpoint_id__in=[w.id for w in world["old"]]).exists()
    assert set(Run.objects.values_list("id", flat=True)) == {r.id for r in world["keep_runs"]}
    assert RunJournalEntry.objects.count() == 2
    assert RunBlock.objects.count() == 1  # the waiting run's block
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"PENDING"}
    assert Waitpoint.objects.filter(status=WaitpointStatus.WAITING).count() == 1
    # Again: nothing left to delete.
    assert not any(retention.purge(older_than=timedelta(days=30)).values())


def test_purge_pauses_after_each_full_batch_in_proportion_to_its_duration(world, monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(retention.time, "sleep", pauses.append)
    counts = retention.purge(older_than=timedelta(days=30), batch_size=2, pause_ratio=3.0)
    assert counts["tokens"] == 7
    # 7 tokens in batches of 2 (and 4 runs, 2 deliveries): a pause after every full batch,
    # none after a scope's last, short one.
    assert len(pauses) >= 3
    assert all(pause > 0 for pause in pauses)

    pauses.clear()
    world_again = retention.purge(older_than=timedelta(days=30), batch_size=2, pause_ratio=0)
    assert not any(world_again.values()) and all(pause == 0 for pause in pauses)


def test_manage_py_purge(world):
    out = StringIO()
    call_command("purge", "--older-than", "30d", "--dry-run", stdout=out)
    assert "would delete 7 tokens" in out.getvalue()
    assert Waitpoint.objects.count() == 10
    out = StringIO()
    call_command("purge", "--older-than", "30d", stdout=out)
    assert "deleted 7 tokens" in out.getvalue()
    assert "deleted 4 runs" in out.getvalue()
    assert Waitpoint.objects.count() == 3


def test_beat_task_keeps_everything_unless_retention_is_set(world):
    from waitpoints.celery_tasks import purge_expired

    purge_expired()
    assert Waitpoint.objects.count() == 10
    with override_settings(WAITPOINTS_RETENTION=30 * 86400.0):
        purge_expired()
    assert Waitpoint.objects.count() == 3


def test_retention_setting_is_parsed():
    from waitpoints.conf import from_environment

    assert from_environment({"WAITPOINTS_RETENTION": "30d"})["WAITPOINTS_RETENTION"] == 2592000
    assert from_environment({})["WAITPOINTS_RETENTION"] is None
    from django.core.exceptions import ImproperlyConfigured

    for bad in ("30", "5m", "abc"):
        with pytest.raises(ImproperlyConfigured):
            from_environment({"WAITPOINTS_RETENTION": bad})
