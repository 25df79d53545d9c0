"""Retention: delete finished tokens, finished runs and finished webhook deliveries older than
WAITPOINTS_RETENTION, in small batches (docs/architecture.md, "Operations").

Each batch is one short transaction: up to WAITPOINTS_RETENTION_BATCH_SIZE ids claimed with
`FOR UPDATE SKIP LOCKED` (a row a completer or the sweeper holds is left for the next run; the
purge never waits on one, and no one waits long on the purge), then deleted with what hangs off
them. The rows are found on the existing indexes that lead with the environment (or endpoint)
and the creation time, environment by environment, walking forward with a keyset, so a batch
never rescans rows that it must keep.

What goes with a token: its tags, its audit events (the `AuditEvent` foreign key cascades: the
audit trail of a token lives exactly as long as the token; archive the table before purging if
you need it longer), its run blocks; journal entries of surviving runs that name it keep their
result and lose the link. What goes with a run: its journal and its blocks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.models import (
    AuditEvent,
    Environment,
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
    WaitpointTag,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)

FINISHED_RUN_STATUSES = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED]
FINISHED_DELIVERY_STATUSES = [WebhookDeliveryStatus.SUCCEEDED, WebhookDeliveryStatus.FAILED]

# The names `purge` prints, by model.
LABELS = {
    Waitpoint: "tokens",
    WaitpointTag: "token tags",
    AuditEvent: "audit events",
    Run: "runs",
    RunJournalEntry: "run journal entries",
    RunBlock: "run blocks",
    WebhookDelivery: "webhook deliveries",
}


def _finished_tokens(cutoff: datetime) -> models.QuerySet:
    return Waitpoint.objects.filter(created_at__lt=cutoff, completed_at__lt=cutoff).exclude(
        status=WaitpointStatus.WAITING
    )


def _finished_runs(cutoff: datetime) -> models.QuerySet:
    return Run.objects.filter(
        created_at__lt=cutoff, finished_at__lt=cutoff, status__in=FINISHED_RUN_STATUSES
    )


def _finished_deliveries(cutoff: datetime) -> models.QuerySet:
    return WebhookDelivery.objects.filter(
        created_at__lt=cutoff, status__in=FINISHED_DELIVERY_STATUSES
    )


def _scopes(cutoff: datetime) -> Iterator[models.QuerySet]:
    """Each a slice served by one index range: (environment, kind | status, created_at)."""
    environment_ids = list(Environment.objects.values_list("id", flat=True))
    for environment_id in environment_ids:
        for kind in WaitpointKind.values:
            yield _finished_tokens(cutoff).filter(environment_id=environment_id, kind=kind)
    for environment_id in environment_ids:
        for status in FINISHED_RUN_STATUSES:
            yield _finished_runs(cutoff).filter(environment_id=environment_id, status=status)
    for endpoint_id in WebhookEndpoint.objects.values_list("id", flat=True):
        yield _finished_deliveries(cutoff).filter(endpoint_id=endpoint_id)


def _purge_scope(
    scope: models.QuerySet, batch_size: int, pause_ratio: float, deleted: Counter
) -> None:
    model = scope.model
    after: tuple[datetime, str] | None = None
    while True:
        started = time.monotonic()
        batch = scope
        if after is not None:
            batch = batch.filter(
                Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1])
            )
        with transaction.atomic():
            rows = list(
                batch.select_for_update(skip_locked=True, of=("self",))
                .order_by("created_at", "id")
                .values_list("created_at", "id")[:batch_size]
            )
            if rows:
                _, by_label = model.objects.filter(id__in=[row[1] for row in rows]).delete()
                for label, count in by_label.items():
                    deleted[label] += count
        if len(rows) < batch_size:
            return
        after = rows[-1]
        time.sleep((time.monotonic() - started) * pause_ratio)


def purge(
    *,
    older_than: timedelta,
    now: datetime | None = None,
    batch_size: int | None = None,
    pause_ratio: float | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Delete (or with `dry_run` only count) what finished more than `older_than` ago.

    Returns {"tokens": n, "token tags": n, "audit events": n, "runs": n, …}."""
    cutoff = (now or timezone.now()) - older_than
    if dry_run:
        return _count(cutoff)
    batch_size = batch_size or waitpoints_settings.retention_batch_size
    if pause_ratio is None:
        pause_ratio = waitpoints_settings.retention_pause_ratio
    deleted: Counter = Counter()
    for scope in _scopes(cutoff):
        _purge_scope(scope, batch_size, pause_ratio, deleted)
    by_model = {model._meta.label: name for model, name in LABELS.items()}
    return {name: deleted.get(label, 0) for label, name in by_model.items()}


def _count(cutoff: datetime) -> dict[str, int]:
    tokens = _finished_tokens(cutoff)
    runs = _finished_runs(cutoff)
    return {
        "tokens": tokens.count(),
        "token tags": WaitpointTag.objects.filter(waitpoint__in=tokens.values("id")).count(),
        "audit events": AuditEvent.objects.filter(waitpoint__in=tokens.values("id")).count(),
        "runs": runs.count(),
        "run journal entries": RunJournalEntry.objects.filter(run__in=runs.values("id")).count(),
        "run blocks": RunBlock.objects.filter(
            Q(run__in=runs.values("id")) | Q(waitpoint__in=tokens.values("id"))
        ).count(),
        "webhook deliveries": _finished_deliveries(cutoff).count(),
    }


def purge_expired() -> dict[str, int] | None:
    """Beat's retention run: None when WAITPOINTS_RETENTION is unset (everything is kept)."""
    seconds = waitpoints_settings.retention
    if seconds is None:
        return None
    return purge(older_than=timedelta(seconds=seconds))
