"""The sweeper: due tokens time out, due sleeps complete, nothing else changes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import WaitpointFactory
from waitpoints.models import AuditEvent, WaitpointKind, WaitpointStatus
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db


def test_sweep_times_out_due_tokens_completes_due_sleeps_and_leaves_the_rest(environment):
    now = timezone.now()
    due_tokens = [
        WaitpointFactory(environment=environment, timeout_at=now - timedelta(seconds=i))
        for i in range(1, 6)
    ]
    due_sleep = WaitpointFactory(
        environment=environment, kind=WaitpointKind.DATETIME, timeout_at=now - timedelta(seconds=1)
    )
    not_due = WaitpointFactory(environment=environment, timeout_at=now + timedelta(hours=1))
    completed = WaitpointFactory(
        environment=environment,
        status=WaitpointStatus.COMPLETED,
        output={"kept": True},
        timeout_at=now - timedelta(seconds=1),
    )

    assert waitpoints_sweep_due(batch_size=2) == 6

    for token in due_tokens:
        token.refresh_from_db()
        assert (token.status, token.output_is_error, token.completed_via) == (
            "TIMED_OUT",
            True,
            "timeout",
        )
        assert token.result_output["name"] == "WaitpointTimeoutError"
    due_sleep.refresh_from_db()
    assert (due_sleep.status, due_sleep.output_is_error) == ("COMPLETED", False)
    not_due.refresh_from_db()
    completed.refresh_from_db()
    assert not_due.status == "WAITING"
    assert (completed.status, completed.output) == ("COMPLETED", {"kept": True})
    audited = set(
        AuditEvent.objects.filter(action="timed_out").values_list("waitpoint_id", flat=True)
    )
    assert audited == {token.id for token in due_tokens}
    assert waitpoints_sweep_due() == 0
