"""Durable task runs: the run, its journal of durable calls, and the waitpoints it waits on."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from waitpoints.core.ids import new_run_id
from waitpoints.models.environments import Environment
from waitpoints.models.tokens import Waitpoint


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class Run(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_run_id, editable=False)
    # Indexed by run_env_status_idx (environment, status, created_at).
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    task_id = models.CharField(max_length=200)
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=2048, null=True, blank=True)  # noqa: DJ001 (NULL: no key given)
    # SHA-256 of the key, as for tokens: 2048 characters of CJK or emoji exceed a btree entry
    # (~2.7 KB), its hash never does. The unique constraint is on the hash.
    idempotency_key_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When an EXECUTING/QUEUED run counts as stalled and gets re-enqueued.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When to retry a failed attempt (backoff); null when not waiting for a retry.
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["environment", "status", "-created_at"], name="run_env_status_idx"
            ),
            models.Index(
                fields=["lease_expires_at"],
                name="run_lease_idx",
                condition=Q(status__in=["QUEUED", "EXECUTING"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "task_id", "idempotency_key_hash"],
                condition=Q(idempotency_key_hash__isnull=False),
                name="run_unique_idempotency_key_hash",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class RunJournalEntry(models.Model):
    """One durable call a run made, by sequence number; replays read their results from here."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="journal")
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    waitpoint = models.ForeignKey(
        Waitpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="run_journal_unique_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.sequence} {self.kind}"


class RunBlock(models.Model):
    """A run waiting on a waitpoint. `resumed_at` is set once, by whoever wakes the run."""

    # Indexed by run_block_unique (run, waitpoint).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="blocks", db_index=False)
    waitpoint = models.ForeignKey(Waitpoint, on_delete=models.CASCADE, related_name="blocks")
    created_at = models.DateTimeField(default=timezone.now)
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "waitpoint"], name="run_block_unique"),
        ]
        # No index may cover `resumed_at` (not even in a partial index's condition), and on
        # PostgreSQL the table has fillfactor 50 (migration 0009): resuming a block is then a HOT
        # update, no index entries (docs/benchmarks.md, P4). The wake finds blocks through the
        # `waitpoint` index.

    def __str__(self) -> str:
        return f"{self.run_id} ⟂ {self.waitpoint_id}"
