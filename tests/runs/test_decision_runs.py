"""A task that asks for a structured decision resumes with the right output on every path:
a person's choice and form, the API's data, the deadline's timeoutOutput, a failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import services as dashboard_services
from waitpoints import task, tasks, wait
from waitpoints.errors import InvalidInput
from waitpoints.models import CompletionVia, Run, RunBlock, RunStatus, Waitpoint
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db

RESPONSE = {
    "options": [{"value": "ship", "style": "primary"}, {"value": "cancel", "style": "danger"}],
    "schema": {
        "type": "object",
        "properties": {"amount": {"type": "integer", "minimum": 0}},
        "required": ["amount"],
    },
}
AT_DEADLINE = {"choice": "cancel", "fields": {"amount": 0}}


@task(id="test-structured-decision")
def structured_decision(payload):
    token = wait.create_token(timeout="1h", response=RESPONSE, timeout_output=AT_DEADLINE)
    result = wait.for_token(token)
    if result.ok:
        return {"ok": True, "output": result.output}
    error = result.error
    return {"ok": False, "name": error.name, "message": str(error), "data": error.data}


def by_a_person(token: Waitpoint) -> None:
    dashboard_services.token_decide(
        token_id=token.id,
        choice="ship",
        fields={"amount": 3},
        comment="go",
        reviewer="ann",
        via=CompletionVia.DASHBOARD,
    )


def by_the_sdk(token: Waitpoint) -> None:
    assert wait.complete_token(token.id, {"choice": "ship", "fields": {"amount": 7}},
                               environment=token.environment)  # fmt: skip


def by_the_deadline(token: Waitpoint) -> None:
    waitpoints_sweep_due(now=token.timeout_at + timedelta(seconds=1))


def by_a_failure(token: Waitpoint) -> None:
    error = {"message": "Warehouse closed", "name": "ShipError", "data": {"site": 4}}
    assert wait.fail_token(token.id, error, environment=token.environment)


@pytest.mark.parametrize(
    ("finish", "output"),
    [
        (
            by_a_person,
            {"ok": True, "output": {"choice": "ship", "fields": {"amount": 3}, "comment": "go",
                                    "reviewedBy": "ann"}},
        ),
        (by_the_sdk, {"ok": True, "output": {"choice": "ship", "fields": {"amount": 7}}}),
        (by_the_deadline, {"ok": True, "output": AT_DEADLINE}),
        (
            by_a_failure,
            {"ok": False, "name": "ShipError", "message": "Warehouse closed", "data": {"site": 4}},
        ),
    ],
)  # fmt: skip
def test_the_run_resumes_with_the_output_of_each_path(environment, finish, output):
    triggered = tasks.trigger("test-structured-decision", {}, environment=environment)
    assert run_execute(run_id=triggered.id) == "WAITING"
    token = RunBlock.objects.get(run_id=triggered.id).waitpoint
    assert token.declared_response == RESPONSE and token.timeout_output == {"value": AT_DEADLINE}
    finish(token)
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    run = Run.objects.get(id=triggered.id)
    assert (run.status, run.output) == (RunStatus.COMPLETED, output)


def test_a_completion_breaking_the_contract_leaves_the_run_waiting(environment):
    triggered = tasks.trigger("test-structured-decision", {}, environment=environment)
    run_execute(run_id=triggered.id)
    token = RunBlock.objects.get(run_id=triggered.id).waitpoint
    with pytest.raises(InvalidInput, match="amount"):
        wait.complete_token(token.id, {"choice": "ship"}, environment=environment)
    assert Run.objects.get(id=triggered.id).status == RunStatus.WAITING
    assert Waitpoint.objects.get(id=token.id).timeout_at > timezone.now()
