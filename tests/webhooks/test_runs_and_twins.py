"""Run events, and the portable twins (the ORM paths SQLite runs) of every recording path."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.runs import tasks_for_tests  # noqa: F401 (registers the test tasks in this process)
from tests.webhooks.test_delivery import deliver
from waitpoints import tasks
from waitpoints.models import WebhookDelivery, WebhookEndpoint
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.runs.services.trigger import run_cancel
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

ALL_EVENTS = ["waitpoint.completed", "waitpoint.timed_out", "run.completed", "run.canceled"]


@pytest.fixture(params=["postgresql", "portable"])
def recording_path(request, monkeypatch):
    if request.param == "portable":
        monkeypatch.setattr("waitpoints.core.database.postgresql", lambda: False)
    return request.param


@pytest.fixture
def endpoint(environment, receiver, allow_private):
    return WebhookEndpoint.objects.create(
        environment=environment, url=receiver.url, events=ALL_EVENTS, secret="whsec_c2VjcmV0"
    )


def events_of(subject_id: str) -> list[str]:
    return list(
        WebhookDelivery.objects.filter(subject_id=subject_id).values_list("event_type", flat=True)
    )


def test_every_finish_records_its_event(recording_path, environment, endpoint):
    completed = token_create(environment=environment).waitpoint
    token_complete(
        environment=environment, token_id=completed.id, data={"a": 1}, via="api", actor="t"
    )
    timed_out = token_create(environment=environment, timeout="1h").waitpoint
    assert waitpoints_sweep_due(now=timezone.now() + timedelta(hours=2)) == 1
    run = tasks.trigger("test-echo", {"x": 1}, environment=environment)
    run_execute(run_id=run.id)
    canceled = tasks.trigger("test-echo", {}, environment=environment)
    run_cancel(environment=environment, run_id=canceled.id)
    assert events_of(completed.id) == ["waitpoint.completed"]
    assert events_of(timed_out.id) == ["waitpoint.timed_out"]
    assert events_of(run.id) == ["run.completed"]
    assert events_of(canceled.id) == ["run.canceled"]


def test_run_completed_data_is_the_run_as_the_api_returns_it(environment, endpoint, receiver, api):
    run = tasks.trigger("test-echo", {"x": 1}, environment=environment)
    run_execute(run_id=run.id)
    assert deliver(WebhookDelivery.objects.get(subject_id=run.id)) == "SUCCEEDED"
    request = receiver.requests[0]
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "run.completed"
    assert payload["data"] == api.get(f"/api/v1/runs/{run.id}").json()
    assert payload["data"]["output"] == {"echo": {"x": 1}}
