"""Reviewer decisions (dashboard and email): the output they write, through the token services.

A decision is a choice among the token's options (`Waitpoint.contract`; today's approve/reject
when it declares none), its form's fields and a comment (docs/architecture.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import prefetch_related_objects

from waitpoints.decisions.contract import (
    DEFAULT_OPTIONS,
    Option,
    person_decision,
)
from waitpoints.errors import AlreadyFinished, AlreadyVoted, InvalidInput, NotAReviewer
from waitpoints.models import CompletionVia, Waitpoint, WaitpointStatus
from waitpoints.tokens import assignment, selectors
from waitpoints.tokens.services.complete import Completion, token_complete, token_force_timeout
from waitpoints.tokens.services.extend import token_extend
from waitpoints.tokens.services.vote import token_vote


def decision_output(
    *,
    waitpoint: Waitpoint,
    choice: str | list[str],
    comment: str,
    reviewer: str,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The token output of a reviewer's decision (README, "Decisions"); InvalidInput naming
    `choice`, `comment` or `fields.<name>` when it breaks the token's contract."""
    return person_decision(
        waitpoint.contract, choice=choice, fields=fields or {}, comment=comment, reviewer=reviewer
    )


def token_decide(
    *,
    token_id: str,
    comment: str,
    reviewer: str,
    via: CompletionVia,
    choice: str | list[str],
    fields: dict[str, Any] | None = None,
) -> Completion:
    """Decide one token: `choice` (an option value, a list when `multiple`) with its form's
    `fields`. `won=False` when someone finished it first; InvalidInput when the answer breaks
    the token's contract (nothing changed). The dashboard's decisions come here through its
    undo window (`dashboard.undo`), the emailed links' at once."""
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    if waitpoint.is_finished:
        return Completion(waitpoint, won=False)
    if waitpoint.contract.multiple and isinstance(choice, str):
        choice = [choice]
    if waitpoint.policy is not None:
        return _vote(
            waitpoint, choice=choice, fields=fields, comment=comment, reviewer=reviewer, via=via
        )
    return token_complete(
        environment=waitpoint.environment,
        token_id=token_id,
        data=decision_output(
            waitpoint=waitpoint, choice=choice, comment=comment, reviewer=reviewer, fields=fields
        ),
        via=via,
        actor=reviewer,
    )


def _vote(
    waitpoint: Waitpoint,
    *,
    choice: str | list[str],
    fields: dict[str, Any] | None,
    comment: str,
    reviewer: str,
    via: CompletionVia,
) -> Completion:
    """A token with an approval policy records the person's vote (which may finish it);
    InvalidInput keyed `choice` when they may not vote (README, "Who decides")."""
    try:
        outcome = token_vote(
            environment=waitpoint.environment,
            token_id=waitpoint.id,
            reviewer=reviewer,
            choice=choice,
            comment=comment,
            fields=fields,
            via=via,
        )
    except AlreadyFinished:
        return Completion(selectors.token_get(environment=None, token_id=waitpoint.id), won=False)
    except (NotAReviewer, AlreadyVoted) as refused:
        raise InvalidInput({"choice": refused.message}, refused.message) from None
    return Completion(outcome.waitpoint, won=True)


def decision_refusal(
    waitpoint: Waitpoint, reviewer: str, identity: assignment.Identity | None = None
) -> str | None:
    """Why this person may not decide this token (None: they may): not assigned, its
    requester, or already voted. Tokens without a policy: anyone with the permission."""
    if waitpoint.policy is None:
        return None
    identity = identity or assignment.identity_of(reviewer)
    if identity is None:
        return "Assigned to " + ", ".join(waitpoint.decision_policy.assignees)
    reason = assignment.refusal(waitpoint.decision_policy, identity)
    if reason:
        return reason
    vote = next((v for v in waitpoint.votes.all() if v.reviewer == identity.name), None)
    if vote is not None:
        return "You already approved" if vote.choice == "approved" else "You already voted"
    return None


def approval_progress(waitpoint: Waitpoint, addresses: dict[str, str] | None = None) -> str:
    """Its approvals so far, "1 of 2 approved — anna ✓, ben pending" ("" without a policy);
    `addresses`: the voters' (`assignment.voter_addresses`), looked up when not given."""
    if waitpoint.policy is None:
        return ""
    policy = waitpoint.decision_policy
    votes = list(waitpoint.votes.all())
    voted = assignment.keys_of_voters((vote.reviewer for vote in votes), addresses)
    marks = {"approved": "✓", "rejected": "✗"}
    people = [f"{vote.reviewer} {marks.get(str(vote.choice), '·')}" for vote in votes]
    people += [f"{name} pending" for name in policy.users if name.lower() not in voted]
    people += [f"{group} (group) pending" for group in policy.groups]
    approved = sum(1 for vote in votes if vote.choice == "approved")
    summary = f"{approved} of {policy.required} approved"
    return f"{summary} — {', '.join(people)}" if people else summary


def has_assignments(identity: assignment.Identity) -> bool:
    """Whether some WAITING token names this person (or a group of theirs) as reviewer and
    waits for their vote: then "Assigned to me" is their inbox's default view."""
    tokens = Waitpoint.objects.filter(
        status=WaitpointStatus.WAITING,
        assignees__key__in=assignment.assignee_keys_of(identity),
    ).exclude(votes__reviewer=identity.name)
    return tokens.exists()


def annotate_for_reviewer(tokens: list[Waitpoint], reviewer: str) -> None:
    """Each token with `.refusal` (why this person may not decide it, or None) and `.progress`
    (its approvals so far), for the dashboard's rows and detail."""
    with_policy = [token for token in tokens if token.policy is not None]
    identity = assignment.identity_of(reviewer) if with_policy else None
    prefetch_related_objects(with_policy, "votes")
    addresses = assignment.voter_addresses(
        vote.reviewer for token in with_policy for vote in token.votes.all()
    )
    for token in tokens:
        token.refusal = None
        if not token.is_finished and token.policy is not None:
            token.refusal = decision_refusal(token, reviewer, identity)
        token.progress = approval_progress(token, addresses)


def token_complete_with_data(*, token_id: str, data: Any, reviewer: str) -> Completion:
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    reason = decision_refusal(waitpoint, reviewer)
    if reason:
        raise InvalidInput({"data": reason}, reason)
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


def token_extend_deadline(*, token_id: str, timeout: str | datetime, reviewer: str) -> Waitpoint:
    """The dashboard's "Extend deadline"; AlreadyFinished / InvalidInput as the API's."""
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    return token_extend(
        environment=waitpoint.environment,
        token_id=token_id,
        timeout=timeout,
        actor=reviewer,
        via=CompletionVia.DASHBOARD,
    )


@dataclass
class BulkOutcome:
    decided: list[Waitpoint] = field(default_factory=list)
    already_finished: list[Waitpoint] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # token id -> why


def common_options(waitpoints: list[Waitpoint]) -> list[Option]:
    """The options a bulk action may choose for these tokens: those every one of them offers,
    leaving out the tokens with required fields (they can't be decided without their form).
    Today's approve/reject when none is left."""
    contracts = [w.contract for w in waitpoints if not w.contract.has_required_fields]
    if not contracts:
        return list(DEFAULT_OPTIONS)
    first, *others = contracts
    return [
        option
        for option in first.options
        if all(contract.option(option.value) == option for contract in others)
    ]
