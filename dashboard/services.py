"""Reviewer decisions (dashboard and email): the output they write, through the token services.

A decision is a choice among the token's options (`Waitpoint.contract`; today's approve/reject
when it declares none), its form's fields and a comment (docs/architecture.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from waitpoints.decisions.contract import (
    APPROVED,
    DEFAULT_OPTIONS,
    REJECTED,
    Option,
    person_decision,
)
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import CompletionVia, Waitpoint
from waitpoints.tokens import selectors
from waitpoints.tokens.services.complete import Completion, token_complete, token_force_timeout
from waitpoints.tokens.services.extend import token_extend

# The two verbs of the forms before options existed ("approve"/"reject"), kept for old
# callers and emailed links: each names one of the default options.
APPROVE, REJECT = "approve", "reject"
LEGACY_DECISIONS = {APPROVE: APPROVED, REJECT: REJECTED}


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
    decision: str | None = None,
    choice: str | list[str] | None = None,
    fields: dict[str, Any] | None = None,
) -> Completion:
    """Decide one token: `choice` (an option value, a list when `multiple`) with its form's
    `fields`, or the old `decision="approve"|"reject"`. `won=False` when someone finished it
    first; InvalidInput when the answer breaks the token's contract (nothing changed)."""
    if choice is None:
        if decision not in LEGACY_DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        choice = LEGACY_DECISIONS[decision]
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    if waitpoint.is_finished:
        return Completion(waitpoint, won=False)
    if waitpoint.contract.multiple and isinstance(choice, str):
        choice = [choice]
    return token_complete(
        environment=waitpoint.environment,
        token_id=token_id,
        data=decision_output(
            waitpoint=waitpoint, choice=choice, comment=comment, reviewer=reviewer, fields=fields
        ),
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


def tokens_decide(
    *,
    token_ids: list[str],
    comment: str,
    reviewer: str,
    decision: str | None = None,
    choice: str | list[str] | None = None,
) -> BulkOutcome:
    """Bulk decide: each token in its own transaction, so one race loses only itself; a token
    whose contract refuses the choice (or needs fields) is skipped with the reason."""
    outcome = BulkOutcome()
    for token_id in dict.fromkeys(token_ids):
        try:
            completion = token_decide(
                token_id=token_id,
                decision=decision,
                choice=choice,
                comment=comment,
                reviewer=reviewer,
                via=CompletionVia.DASHBOARD,
            )
        except NotFound:
            outcome.missing.append(token_id)
            continue
        except InvalidInput as refused:
            outcome.refused[token_id] = refused.message
            continue
        (outcome.decided if completion.won else outcome.already_finished).append(
            completion.waitpoint
        )
    return outcome


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
