"""A token with a `timeoutOutput` ends COMPLETED with it at its deadline (docs/architecture.md,
"Deadlines"): for every reader at once, then for the sweeper, on both of its paths."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.helpers import TOKENS, stored
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.expiry import finish_due, waitpoints_sweep_due

pytestmark = pytest.mark.django_db

CONTRACT = {"options": [{"value": "ship"}, {"value": "cancel"}]}


def overdue(token):
    waitpoint = stored(token)
    waitpoint.timeout_at = timezone.now() - timedelta(seconds=5)
    waitpoint.save(update_fields=["timeout_at"])
    return waitpoint.timeout_at


def sweep_with_the_service():
    waitpoints_sweep_due()


def sweep_with_the_portable_twin():
    with transaction.atomic():
        due = Waitpoint.objects.select_for_update().filter(
            status=WaitpointStatus.WAITING, timeout_at__lte=timezone.now()
        )
        finish_due(list(due.values_list("id", flat=True)), now=timezone.now())


def test_a_read_after_the_deadline_says_the_deadline_decided(api, create_token):
    token = create_token(response=CONTRACT, timeoutOutput={"choice": "cancel"})
    deadline = overdue(token)
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["status"] == "COMPLETED" and body["outputIsError"] is False
    assert body["output"] == {"choice": "cancel"}
    assert body["resolution"] == {"via": "timeout", "by": None}
    assert body["completedAt"] == deadline.isoformat().replace("+00:00", "Z")
    assert stored(token).status == WaitpointStatus.WAITING  # the sweeper has not run


@pytest.mark.parametrize("sweep", [sweep_with_the_service, sweep_with_the_portable_twin])
def test_the_sweeper_completes_it_with_the_timeout_output(api, create_token, sweep):
    decided = create_token(response=CONTRACT, timeoutOutput={"choice": "cancel"})
    null_output = create_token(timeoutOutput=None)
    plain = create_token()
    deadlines = {
        name: overdue(token) for name, token in [("d", decided), ("n", null_output), ("p", plain)]
    }
    sweep()
    waitpoint = stored(decided)
    assert (waitpoint.status, waitpoint.output, waitpoint.output_is_error) == (
        WaitpointStatus.COMPLETED,
        {"choice": "cancel"},
        False,
    )
    assert (waitpoint.completed_via, waitpoint.completed_at) == ("timeout", deadlines["d"])
    event = AuditEvent.objects.get(waitpoint_id=decided["id"], via="timeout")
    assert (event.action, event.data) == ("completed", {"choice": "cancel"})
    assert stored(null_output).status == WaitpointStatus.COMPLETED
    assert not stored(null_output).output_is_error
    assert stored(plain).status == WaitpointStatus.TIMED_OUT
    body = api.get(f"{TOKENS}/{decided['id']}").json()
    assert (body["status"], body["output"], body["resolution"]) == (
        "COMPLETED",
        {"choice": "cancel"},
        {"via": "timeout", "by": None},
    )


def test_a_late_completion_finds_the_deadline_decided(api, create_token):
    token = create_token(response=CONTRACT, timeoutOutput={"choice": "cancel"})
    overdue(token)
    api.post(f"{TOKENS}/{token['id']}/complete", {"data": {"choice": "ship"}}, format="json")
    assert stored(token).output == {"choice": "cancel"}
    assert stored(token).completed_via == "timeout"
