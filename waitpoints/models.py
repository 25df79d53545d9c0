"""Tables of the domain: environments, API keys, waitpoints and their tags, runs, audit events.

Models hold fields, constraints and small derived properties; every write goes through
`waitpoints.services` (or `waitpoints.runs.services` for runs).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_id(prefix: str) -> str:
    # 20 url-safe bytes -> 27 characters: far above the design's 20-character floor.
    return f"{prefix}_{secrets.token_urlsafe(20)}"


WAITPOINT_ID_PREFIX = "waitpoint_"


def new_waitpoint_id() -> str:
    return new_id(WAITPOINT_ID_PREFIX.rstrip("_"))


def new_run_id() -> str:
    return new_id("run")


def idempotency_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


class Environment(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Signs callback URL hashes and public access tokens of this environment only.
    signing_secret = models.CharField(max_length=128, default=new_signing_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug


class ApiKey(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=40, help_text="Shown in the UI to recognise the key.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.environment.slug})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WaitpointKind(models.TextChoices):
    MANUAL = "MANUAL", "Token"
    DATETIME = "DATETIME", "Durable sleep"


class WaitpointStatus(models.TextChoices):
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    TIMED_OUT = "TIMED_OUT"


class CompletionVia(models.TextChoices):
    API = "api"
    CALLBACK = "callback"
    DASHBOARD = "dashboard"
    EMAIL = "email"
    TIMEOUT = "timeout"
    SDK = "sdk"


TIMEOUT_ERROR_NAME = "WaitpointTimeoutError"


def timeout_error(timed_out_at: datetime) -> dict[str, str]:
    """The error output of a timed-out waitpoint (the same shape Trigger.dev returns)."""
    stamp = timed_out_at.astimezone(UTC).isoformat(timespec="milliseconds")
    stamp = stamp.replace("+00:00", "Z")
    return {"name": TIMEOUT_ERROR_NAME, "message": f"Waitpoint timed out at {stamp}"}


class Waitpoint(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_waitpoint_id, editable=False)
    # No index of its own: the composite indexes below start with the environment (and each
    # index costs every write; the sweeper rewrites many rows at once, docs/benchmarks.md P4).
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="waitpoints", db_index=False
    )
    kind = models.CharField(
        max_length=16, choices=WaitpointKind.choices, default=WaitpointKind.MANUAL
    )
    status = models.CharField(
        max_length=16, choices=WaitpointStatus.choices, default=WaitpointStatus.WAITING
    )
    # For TIMED_OUT the output is derived from timeout_at (see `result_output`), not stored.
    output = models.JSONField(null=True, blank=True)
    output_is_error = models.BooleanField(default=False)
    timeout_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_via = models.CharField(max_length=16, choices=CompletionVia.choices, blank=True)
    completed_by = models.CharField(max_length=320, blank=True)
    idempotency_key = models.CharField(max_length=2048, null=True, blank=True)  # noqa: DJ001 (NULL: no key given)
    # SHA-256 of the key: a 2048-character key can exceed a btree entry, its hash cannot.
    idempotency_key_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    idempotency_key_expires_at = models.DateTimeField(null=True, blank=True)
    # False once the key's TTL has passed and a newer token took the key over.
    idempotency_key_active = models.BooleanField(default=True)
    title = models.CharField(max_length=200, blank=True)
    context = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("complete_waitpoint", "Can complete and time out waitpoints")]
        indexes = [
            models.Index(
                fields=["timeout_at"],
                name="waitpoint_due_idx",
                condition=Q(status="WAITING"),
            ),
            models.Index(
                fields=["environment", "kind", "status", "-created_at", "-id"],
                name="waitpoint_env_status_idx",
            ),
            models.Index(
                fields=["environment", "kind", "-created_at", "-id"],
                name="waitpoint_env_created_idx",
            ),
            # Partial: most tokens have no key, and each index entry costs every write.
            models.Index(
                fields=["environment", "idempotency_key_hash"],
                name="waitpoint_idem_idx",
                condition=Q(idempotency_key_hash__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "idempotency_key_hash"],
                condition=Q(idempotency_key_hash__isnull=False, idempotency_key_active=True),
                name="waitpoint_unique_active_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    # A WAITING row past its deadline is timed out for every reader, even before the
    # sweeper has marked it (DESIGN §6).
    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.status == WaitpointStatus.WAITING and self.timeout_at <= (now or timezone.now())

    @property
    def current_status(self) -> str:
        return WaitpointStatus.TIMED_OUT if self.is_overdue() else self.status

    @property
    def is_finished(self) -> bool:
        return self.current_status != WaitpointStatus.WAITING

    @property
    def result_is_error(self) -> bool:
        return self.current_status == WaitpointStatus.TIMED_OUT or self.output_is_error

    @property
    def result_output(self) -> Any:
        if self.current_status == WaitpointStatus.TIMED_OUT:
            return timeout_error(self.timeout_at)
        return self.output

    @property
    def result_completed_at(self) -> datetime | None:
        if self.is_overdue():
            return self.timeout_at
        return self.completed_at

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags.all()]


class WaitpointTag(models.Model):
    """One tag of one waitpoint; the composite index serves "has any/all of these tags"."""

    # Indexed by the unique constraint and the lookup index, which lead with these columns
    # (each index costs every token insert, docs/benchmarks.md P1).
    waitpoint = models.ForeignKey(
        Waitpoint, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    name = models.CharField(max_length=127)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["waitpoint", "name"], name="waitpoint_tag_unique"),
        ]
        indexes = [
            models.Index(
                fields=["environment", "name", "waitpoint"], name="waitpoint_tag_lookup_idx"
            )
        ]

    def __str__(self) -> str:
        return self.name


class AuditEvent(models.Model):
    """Append-only: every completion, timeout and dashboard action."""

    class Action(models.TextChoices):
        CREATED = "created"
        COMPLETED = "completed"
        TIMED_OUT = "timed_out"
        FORCED_TIMEOUT = "forced_timeout"
        EMAIL_SENT = "email_sent"

    # Indexed by audit_waitpoint_idx (waitpoint, created_at).
    waitpoint = models.ForeignKey(
        Waitpoint, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    via = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=320, blank=True)
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["waitpoint", "created_at"], name="audit_waitpoint_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.waitpoint_id} by {self.actor}"


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
                fields=["environment", "task_id", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="run_unique_idempotency_key",
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
        indexes = [
            models.Index(
                fields=["waitpoint"],
                name="run_block_pending_idx",
                condition=Q(resumed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.run_id} ⟂ {self.waitpoint_id}"
