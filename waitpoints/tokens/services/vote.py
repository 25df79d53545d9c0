"""A person's vote on a token: counted under the token's row lock, so however many vote at
once, exactly the N-th matching vote (or the first veto) finishes it (docs/architecture.md,
"Who decides")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from waitpoints.decisions.contract import REJECTED, Contract, person_decision
from waitpoints.errors import AlreadyFinished, AlreadyVoted, NotAReviewer
from waitpoints.models import AuditEvent, CompletionVia, Environment, Waitpoint, WaitpointVote
from waitpoints.tokens import assignment
from waitpoints.tokens.services.complete import finish_waiting, finished_or_due, lock_token


@dataclass(frozen=True)
class VoteOutcome:
    waitpoint: Waitpoint
    vote: WaitpointVote
    finished: bool  # this vote finished the token


def is_veto(contract: Contract, choice: str | list[str]) -> bool:
    """A rejection ends the token at once: today's Reject, or any danger-styled option."""
    values = choice if isinstance(choice, list) else [choice]
    for value in values:
        option = contract.option(value)
        if option is None:
            continue
        if option.style == "danger" or (not contract.custom_options and value == REJECTED):
            return True
    return False


def _same_choice(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    return a == b


def token_vote(
    *,
    environment: Environment,
    token_id: str,
    reviewer: str,
    choice: str | list[str],
    comment: str = "",
    fields: dict[str, Any] | None = None,
    via: CompletionVia | str,
    now: datetime | None = None,
) -> VoteOutcome:
    """Record `reviewer`'s vote. NotAReviewer (not assigned, the requester, nobody known),
    AlreadyVoted, AlreadyFinished (finished or past its deadline), InvalidInput (a choice,
    comment or fields the token's contract refuses): nothing is stored then."""
    identity = assignment.identity_of(reviewer)
    with transaction.atomic():
        waitpoint = lock_token(environment, token_id)
        # After the lock: the votes' times follow the order they were counted in.
        now = now or timezone.now()
        # An overdue token is timed out by this check, and that commits (as in token_complete).
        finished = finished_or_due(waitpoint, now)
        if not finished:
            outcome = _record_vote(
                environment,
                waitpoint,
                identity=identity,
                reviewer=reviewer,
                choice=choice,
                comment=comment,
                fields=fields,
                via=via,
                now=now,
            )
    if finished:
        raise AlreadyFinished(f"Waitpoint token {token_id!r} is already finished")
    return outcome


def _record_vote(
    environment: Environment,
    waitpoint: Waitpoint,
    *,
    identity: assignment.Identity | None,
    reviewer: str,
    choice: str | list[str],
    comment: str,
    fields: dict[str, Any] | None,
    via: CompletionVia | str,
    now: datetime,
) -> VoteOutcome:
    """Under the token's lock: refuse (nothing written yet) or record, count and maybe finish."""
    if identity is None:
        raise NotAReviewer(f"{reviewer!r} is neither a user nor an email address")
    reason = assignment.refusal(waitpoint.decision_policy, identity)
    if reason:
        raise NotAReviewer(reason)
    contract = waitpoint.contract
    if contract.multiple and isinstance(choice, str):
        choice = [choice]
    output = person_decision(
        contract, choice=choice, fields=fields or {}, comment=comment, reviewer=identity.name
    )
    try:
        with transaction.atomic():
            vote = WaitpointVote.objects.create(
                waitpoint=waitpoint,
                reviewer=identity.name,
                choice=choice,
                comment=comment,
                via=via,
                created_at=now,
            )
    except IntegrityError:
        raise AlreadyVoted(f"{identity.name} already voted on {waitpoint.id}") from None
    votes = list(WaitpointVote.objects.filter(waitpoint=waitpoint).order_by("id"))
    agreeing = [other for other in votes if _same_choice(other.choice, choice)]
    finishes = is_veto(contract, choice) or len(agreeing) >= waitpoint.decision_policy.required
    if finishes:
        output["votes"] = [each.as_json() for each in votes]
        finish_waiting(
            environment,
            waitpoint,
            output=output,
            is_error=False,
            via=via,
            actor=identity.name,
            now=now,
        )
    else:
        AuditEvent.objects.create(
            waitpoint=waitpoint,
            action=AuditEvent.Action.VOTED,
            via=via,
            actor=identity.name,
            data=vote.as_json(),
            created_at=now,
        )
    return VoteOutcome(waitpoint=waitpoint, vote=vote, finished=finishes)
