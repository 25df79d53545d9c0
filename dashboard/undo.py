"""The undo window of dashboard decisions (docs/architecture.md, "Dashboard: the undo window").

A reviewer's decision is stored as a `PendingDecision` and recorded on the token only when the
window lapses, by a Celery task sent with that countdown (beat's sweep is the safety net for a
lost message). Undo deletes it. The API and runs only ever see the one recorded decision; a
decision made elsewhere meanwhile wins, and the pending one then finds the token finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard import services as dashboard_services
from dashboard.choices import dashboard_contract
from dashboard.models import PendingDecision
from waitpoints.conf import waitpoints_settings
from waitpoints.decisions.contract import person_decision
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import CompletionVia
from waitpoints.tokens import selectors
from waitpoints.tokens.services.complete import Completion

logger = logging.getLogger(__name__)

APPLY_PENDING_DECISION_TASK = "dashboard.apply_pending_decision"
SWEEP_PENDING_DECISIONS_TASK = "dashboard.sweep_pending_decisions"
SWEEP_BATCH = 500


def undo_seconds() -> float:
    return float(waitpoints_settings.dashboard_undo_seconds)


Choice = str | list[str]  # an option value, a list when the token allows `multiple`


def decision_submit(
    *,
    token_id: str,
    choice: Choice,
    fields: dict[str, Any] | None = None,
    comment: str,
    reviewer: str,
) -> PendingDecision | Completion:
    """A pending decision (undoable until its `apply_at`), or with no window the recorded one.

    The caller has validated it against `dashboard_contract` (the form). Raises NotFound for
    an unknown token, and InvalidInput when the contract refuses it (with no window) or the
    reviewer may not vote on it (README, "Who decides"). A token
    already finished gives the losing `Completion` at once: there is nothing to wait for.
    """
    window = undo_seconds()
    waitpoint = selectors.token_get(environment=None, token_id=token_id)
    if waitpoint.is_finished:
        return Completion(waitpoint, won=False)
    refusal = dashboard_services.decision_refusal(waitpoint, reviewer)
    if refusal:  # before the window: nothing pending for someone who may not vote
        raise InvalidInput({"choice": refusal}, refusal)
    if window <= 0:
        return _decide(
            token_id=token_id, choice=choice, fields=fields, comment=comment, reviewer=reviewer
        )
    try:
        with transaction.atomic():
            pending = PendingDecision.objects.create(
                token=waitpoint,
                choice=choice,
                fields=fields,
                comment=comment,
                reviewer=reviewer,
                apply_at=timezone.now() + timedelta(seconds=window),
            )
    except IntegrityError:
        # This reviewer already has one pending on this token (a double click): keep it.
        return PendingDecision.objects.get(token=waitpoint, reviewer=reviewer)
    pending_id = pending.pk
    transaction.on_commit(
        lambda: current_app.send_task(
            APPLY_PENDING_DECISION_TASK, args=(pending_id,), countdown=window
        ),
        robust=True,  # a broker down must not lose the decision: beat's sweep applies it
    )
    return pending


def decisions_undo(*, token_ids: list[str], reviewer: str) -> list[str]:
    """Delete this reviewer's pending decisions on these tokens; the ids actually undone.

    One being recorded right now holds its row lock: the delete waits and then finds nothing.
    """
    with transaction.atomic():
        undone = list(
            PendingDecision.objects.filter(token_id__in=token_ids, reviewer=reviewer)
            .select_for_update()
            .values_list("token_id", flat=True)
        )
        PendingDecision.objects.filter(token_id__in=undone, reviewer=reviewer).delete()
    return undone


def pending_decision_apply(*, pending_id: int, now: datetime | None = None) -> Completion | None:
    """Record one lapsed pending decision; None when undone, not due, or taken by another
    applier (the countdown task and the sweep may both try)."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = (
            PendingDecision.objects.select_for_update(skip_locked=True)
            .filter(pk=pending_id, apply_at__lte=now)
            .first()
        )
        if pending is None:
            return None
        completion = None
        try:
            # A savepoint: a refusal must not undo the delete below.
            with transaction.atomic():
                completion = _decide(
                    token_id=pending.token_id,
                    choice=pending.choice,
                    fields=pending.fields,
                    comment=pending.comment,
                    reviewer=pending.reviewer,
                )
        except InvalidInput as refused:
            # The form checked it when submitted: only a contract changed meanwhile gets here.
            logger.warning(
                "Dropped pending decision %s on %s: %s", pending.pk, pending.token_id, refused
            )
        except NotFound:
            logger.warning("Dropped pending decision %s: its token is gone", pending.pk)
        pending.delete()
    return completion


def pending_decisions_apply_due(*, now: datetime | None = None) -> int:
    """Beat's safety net: record every lapsed pending decision whose message was lost."""
    now = now or timezone.now()
    due = PendingDecision.objects.filter(apply_at__lte=now).order_by("apply_at")
    applied = 0
    for pending_id in list(due.values_list("pk", flat=True)[:SWEEP_BATCH]):
        applied += pending_decision_apply(pending_id=pending_id, now=now) is not None
    return applied


def pending_by_token(*, token_ids: list[str], reviewer: str) -> dict[str, PendingDecision]:
    """This reviewer's pending decisions on these tokens (one query)."""
    return {
        pending.token_id: pending
        for pending in PendingDecision.objects.filter(token_id__in=token_ids, reviewer=reviewer)
    }


def _decide(
    *, token_id: str, choice: Choice, fields: dict[str, Any] | None, comment: str, reviewer: str
) -> Completion:
    return dashboard_services.token_decide(
        token_id=token_id,
        choice=choice,
        fields=fields,
        comment=comment,
        reviewer=reviewer,
        via=CompletionVia.DASHBOARD,
    )


@dataclass
class BulkSubmission:
    pending: list[PendingDecision] = field(default_factory=list)
    outcome: dashboard_services.BulkOutcome = field(default_factory=dashboard_services.BulkOutcome)


def decisions_submit(
    *, token_ids: list[str], choice: str, comment: str, reviewer: str
) -> BulkSubmission:
    """Bulk `decision_submit`, each token checked against its own `dashboard_contract` first:
    one that refuses the choice (or needs its form) is skipped with the reason."""
    submission = BulkSubmission()
    outcome = submission.outcome
    for token_id in dict.fromkeys(token_ids):
        try:
            waitpoint = selectors.token_get(environment=None, token_id=token_id)
            contract = dashboard_contract(waitpoint)
            answer: Choice = [choice] if contract.multiple else choice
            person_decision(contract, choice=answer, fields={}, comment=comment, reviewer=reviewer)
            result = decision_submit(
                token_id=token_id, choice=answer, comment=comment, reviewer=reviewer
            )
        except NotFound:
            outcome.missing.append(token_id)
            continue
        except InvalidInput as refused:
            if waitpoint.is_finished:
                outcome.already_finished.append(waitpoint)
            else:
                outcome.refused[token_id] = refused.message
            continue
        if isinstance(result, PendingDecision):
            submission.pending.append(result)
        else:
            (outcome.decided if result.won else outcome.already_finished).append(result.waitpoint)
    return submission
