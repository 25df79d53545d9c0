"""Dashboard state of its own: decisions waiting out their undo window (docs/architecture.md,
"Dashboard: the undo window")."""

from django.db import models


class PendingDecision(models.Model):
    """A reviewer's decision, recorded on its token only at `apply_at` unless undone first.

    Until then the API, runs and other reviewers see the token WAITING; deleting this row is
    the undo. The applier holds the row locked while it records the decision, so an undo that
    arrives meanwhile waits, then finds nothing to delete: one of the two wins.
    """

    token = models.ForeignKey(
        "waitpoints.Waitpoint", on_delete=models.CASCADE, related_name="pending_decisions"
    )
    # An option value of the token's contract, or a list of them when it allows `multiple`.
    choice = models.JSONField()
    fields = models.JSONField(null=True, blank=True)  # the contract's form, when it has one
    comment = models.TextField(blank=True)
    reviewer = models.CharField(max_length=150)
    apply_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["apply_at"], name="pending_decision_due")]
        constraints = [
            # One pending decision per reviewer and token: a second click replaces nothing.
            models.UniqueConstraint(fields=["token", "reviewer"], name="pending_decision_once")
        ]

    def __str__(self) -> str:
        return f"{self.choice} on {self.token_id} by {self.reviewer} at {self.apply_at:%H:%M:%S}"
