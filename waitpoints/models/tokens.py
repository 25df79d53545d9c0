"""Waitpoints (tokens and durable sleeps), their tags and their audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from waitpoints.core.ids import new_waitpoint_id
from waitpoints.decisions.contract import Contract, contract_of, declared
from waitpoints.decisions.policy import Policy, policy_of
from waitpoints.models.environments import Environment


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
    FAIL = "fail"


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
    # The response contract (waitpoints.decisions): NULL for today's approve/reject and any data.
    response = models.JSONField(null=True, blank=True)
    # `{"value": <output>}` when the deadline completes the token instead of timing it out
    # (wrapped: a JSON null output is still an output); docs/architecture.md, "Deadlines".
    timeout_output = models.JSONField(null=True, blank=True)
    # How to show the context: {"amount": "money:EUR", ...} (waitpoints.display.hints).
    display = models.JSONField(null=True, blank=True)
    # Who decides and how many must agree (waitpoints.decisions.policy): NULL for anyone
    # permitted, one decision. The next reminder and escalation are due at these times (NULL:
    # none due); beat claims each due time with a conditional UPDATE (docs/architecture.md,
    # "Who decides").
    policy = models.JSONField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    escalate_at = models.DateTimeField(null=True, blank=True)
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
            models.Index(
                fields=["remind_at"],
                name="waitpoint_remind_due_idx",
                condition=Q(status="WAITING", remind_at__isnull=False),
            ),
            models.Index(
                fields=["escalate_at"],
                name="waitpoint_escalate_due_idx",
                condition=Q(status="WAITING", escalate_at__isnull=False),
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
    # sweeper has marked it (docs/architecture.md, "Deadlines").
    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.status == WaitpointStatus.WAITING and self.timeout_at <= (now or timezone.now())

    @property
    def current_status(self) -> str:
        if not self.is_overdue():
            return self.status
        return WaitpointStatus.COMPLETED if self.deadline_decides else WaitpointStatus.TIMED_OUT

    @cached_property  # `response` never changes once created
    def contract(self) -> Contract:
        """What may be answered (its options: the default approve/reject when none declared)."""
        return contract_of(self.response)

    @cached_property  # `policy` changes only by escalation, which reloads the row
    def decision_policy(self) -> Policy:
        """Who may decide and how many must agree (the default: anyone permitted, one)."""
        return policy_of(self.policy)

    @property
    def declared_response(self) -> dict[str, Any] | None:
        """The `response` as the creator gave it (as the API shows it)."""
        return declared(self.response)

    @property
    def deadline_decides(self) -> bool:
        """The deadline completes this token with its `timeoutOutput` (not a timeout error)."""
        return self.timeout_output is not None

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
        if self.is_overdue() and self.deadline_decides:
            return self.timeout_output["value"]
        return self.output

    @property
    def resolution(self) -> dict[str, str | None] | None:
        """How a finished token ended: `{"via", "by"}` (None while it waits)."""
        if self.is_overdue():
            return {"via": CompletionVia.TIMEOUT.value, "by": None}
        if self.status == WaitpointStatus.WAITING:
            return None
        return {"via": self.completed_via or None, "by": self.completed_by or None}

    @property
    def result_completed_at(self) -> datetime | None:
        if self.is_overdue():
            return self.timeout_at
        return self.completed_at

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags.all()]

    def mark_inserted(self, *, tag_names: list[str]) -> None:
        """This instance's row (and these tags) were just inserted: it is a stored row now, and
        its tags render without a query (a create's response lists them)."""
        self._state.adding = False
        self._prefetched_objects_cache = {
            "tags": [
                WaitpointTag(waitpoint=self, name=name, position=position)
                for position, name in enumerate(tag_names)
            ]
        }


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
        FAILED = "failed"
        EXTENDED = "extended"
        VOTED = "voted"
        REMINDER_SENT = "reminder_sent"
        ESCALATED = "escalated"

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


class WaitpointVote(models.Model):
    """One person's vote on a token with an approval policy: a person votes once."""

    waitpoint = models.ForeignKey(
        Waitpoint, on_delete=models.CASCADE, related_name="votes", db_index=False
    )
    # The username, or the lowercased address of an outside approver (email links).
    reviewer = models.CharField(max_length=320)
    choice = models.JSONField()  # an option value, a list of them when `multiple`
    comment = models.TextField(blank=True)
    via = models.CharField(max_length=16, choices=CompletionVia.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]  # the order they were counted in (under the token lock)
        constraints = [
            models.UniqueConstraint(fields=["waitpoint", "reviewer"], name="waitpoint_vote_once"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.choice} on {self.waitpoint_id}"

    def as_json(self) -> dict[str, Any]:
        """As the token's JSON and its final output list it."""
        stamp = self.created_at.astimezone(UTC).isoformat(timespec="milliseconds")
        return {
            "reviewer": self.reviewer,
            "choice": self.choice,
            "comment": self.comment,
            "at": stamp.replace("+00:00", "Z"),
            "via": self.via,
        }


class WaitpointAssignee(models.Model):
    """One name a token's reviewers are matched by ("user:<name or address, lowercased>",
    "group:<name>"): the dashboard's "Assigned to me" filter, portable (no JSON containment)."""

    waitpoint = models.ForeignKey(
        Waitpoint, on_delete=models.CASCADE, related_name="assignees", db_index=False
    )
    key = models.CharField(max_length=330)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["waitpoint", "key"], name="waitpoint_assignee_once"),
        ]
        indexes = [models.Index(fields=["key", "waitpoint"], name="waitpoint_assignee_key_idx")]

    def __str__(self) -> str:
        return f"{self.key} on {self.waitpoint_id}"


def assignee_keys(users, groups) -> list[str]:
    """The `WaitpointAssignee` keys of these reviewers."""
    return [f"user:{name.lower()}" for name in users] + [f"group:{name}" for name in groups]
