"""Reviewer decisions (dashboard and email): the output they write, through the token services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from waitpoints.errors import NotFound
from waitpoints.models import CompletionVia, Waitpoint
from waitpoints.tokens import selectors
from waitpoints.tokens.services.complete import Completion, token_complete, token_force_timeout

APPROVE, REJECT = "approve", "reject"


def decision_output(*, decision: str, comment: str, reviewer: str) -> dict[str, Any]:
    """The token output of a reviewer's decision (README, "Dashboard")."""
    approved = decision == APPROVE
    return {
        "approved": approved,
        "status": "approved" if approved else "rejected",
        "comment": comment,
        "reviewedBy": reviewer,
    }


def token_decide(
    *, token_id: str, decision: str, comment: str, reviewer: str, via: CompletionVia
) -> Completion:
    """Approve or reject one token; `won=False` when someone finished it first."""
    if decision not in (APPROVE, REJECT):
        raise ValueError(f"unknown decision {decision!r}")
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    return token_complete(
        environment=waitpoint.environment,
        token_id=token_id,
        data=decision_output(decision=decision, comment=comment, reviewer=reviewer),
        via=via,
        actor=reviewer,
    )


def token_complete_with_data(*, token_id: str, data: Any, reviewer: str) -> Completion:
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    return token_complete(
        environment=waitpoint.environment,
        token_id=token_id,
        data=data,
        via=CompletionVia.DASHBOARD,
        actor=reviewer,
    )


def token_time_out(*, token_id: str, reviewer: str) -> Completion:
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    return token_force_timeout(environment=waitpoint.environment, token_id=token_id, actor=reviewer)


@dataclass
class BulkOutcome:
    decided: list[Waitpoint] = field(default_factory=list)
    already_finished: list[Waitpoint] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def tokens_decide(
    *, token_ids: list[str], decision: str, comment: str, reviewer: str
) -> BulkOutcome:
    """Bulk approve/reject: each token in its own transaction, so one race loses only itself."""
    outcome = BulkOutcome()
    for token_id in dict.fromkeys(token_ids):
        try:
            completion = token_decide(
                token_id=token_id,
                decision=decision,
                comment=comment,
                reviewer=reviewer,
                via=CompletionVia.DASHBOARD,
            )
        except NotFound:
            outcome.missing.append(token_id)
            continue
        (outcome.decided if completion.won else outcome.already_finished).append(
            completion.waitpoint
        )
    return outcome
