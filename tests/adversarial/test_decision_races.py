"""Complete, fail, extend and the deadline racing on one token, many times: exactly one final
state, and the audit trail and the stored row agree on who won (docs/architecture.md,
"Deadlines", "Lock order")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.concurrency import run_concurrently
from waitpoints.errors import AlreadyFinished
from waitpoints.models import AuditEvent, CompletionVia, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.complete import token_complete, token_fail
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due
from waitpoints.tokens.services.extend import token_extend

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only("row locks and SKIP LOCKED decide the races"),
]

ROUNDS = 25
FINISHING = {AuditEvent.Action.COMPLETED, AuditEvent.Action.FAILED, AuditEvent.Action.TIMED_OUT}
RESPONSE = {"options": [{"value": "ship"}, {"value": "cancel"}]}


def racers(environment, token_id, sweep_moment):
    def extend():
        try:
            return token_extend(
                environment=environment, token_id=token_id, timeout="3h", actor="x", via="api"
            )
        except AlreadyFinished:
            return None

    return [
        lambda: token_complete(
            environment=environment,
            token_id=token_id,
            data={"choice": "ship"},
            via=CompletionVia.API,
            actor="completer",
        ),
        lambda: token_fail(
            environment=environment, token_id=token_id, error={"message": "no"}, actor="f"
        ),
        extend,
        lambda: waitpoints_sweep_due(now=sweep_moment),
    ]


def test_complete_fail_extend_and_timeout_race_to_one_outcome(environment):
    for round_ in range(ROUNDS):
        deadline_decides = round_ % 2 == 0
        token = token_create(
            environment=environment,
            timeout="1h",
            response=RESPONSE,
            **({"timeout_output": {"choice": "cancel"}} if deadline_decides else {}),
        ).waitpoint
        # The sweeper sees a moment past the deadline: for it the token is due unless the
        # extension committed first.
        sweep_moment = token.timeout_at + timedelta(seconds=1)

        run_concurrently(racers(environment, token.id, sweep_moment))

        stored = Waitpoint.objects.get(id=token.id)
        assert stored.status != WaitpointStatus.WAITING
        events = list(AuditEvent.objects.filter(waitpoint=stored).values_list("action", "via"))
        finishing = [event for event in events if event[0] in FINISHING]
        assert len(finishing) == 1, events
        action, via = finishing[0]
        assert stored.completed_via == via
        if via == CompletionVia.TIMEOUT:
            # The deadline can only have won if no extension committed before it.
            assert (AuditEvent.Action.EXTENDED, "api") not in events
            expected = (
                (WaitpointStatus.COMPLETED, {"choice": "cancel"}, False)
                if deadline_decides
                else (WaitpointStatus.TIMED_OUT, None, True)
            )
        elif via == CompletionVia.FAIL:
            expected = (WaitpointStatus.COMPLETED, {"message": "no"}, True)
        else:
            expected = (WaitpointStatus.COMPLETED, {"choice": "ship"}, False)
        assert (stored.status, stored.output, stored.output_is_error) == expected
        assert stored.timeout_at > timezone.now() - timedelta(hours=2)
