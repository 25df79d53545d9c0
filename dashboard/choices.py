"""The decisions a reviewer may pick for a token, produced in one place: the inbox rows, the
detail page, the keyboard shortcuts and the forms all read this list (docs/architecture.md,
"Dashboard")."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.services import APPROVE, REJECT
from waitpoints.conf import waitpoints_settings


@dataclass(frozen=True)
class Choice:
    value: str  # what the form posts
    label: str
    style: str  # primary | danger | default
    require_comment: bool
    decision: str  # the dashboard service's decision (approve / reject)
    shortcut: str = ""  # the inbox's one-key shortcut

    @property
    def button_class(self) -> str:
        return {"primary": "btn-approve", "danger": "btn-reject"}.get(self.style, "")

    @property
    def past(self) -> str:
        """ "Approved" / "Rejected": the recorded decision's wording."""
        return {APPROVE: "Approved", REJECT: "Rejected"}.get(self.decision, "Decided")

    @property
    def verb(self) -> str:
        """ "Approving" / "Rejecting": the pending state's wording."""
        return {APPROVE: "Approving", REJECT: "Rejecting"}.get(self.decision, "Deciding")


def decision_choices() -> list[Choice]:
    """Approve and Reject; Reject needs a reason when WAITPOINTS_REJECT_REQUIRES_REASON is on."""
    return [
        Choice("approved", "Approve", "primary", False, APPROVE, shortcut="a"),
        Choice(
            "rejected",
            "Reject",
            "danger",
            bool(waitpoints_settings.reject_requires_reason),
            REJECT,
            shortcut="r",
        ),
    ]


def choice_get(value: str) -> Choice | None:
    return next((choice for choice in decision_choices() if choice.value == value), None)
