"""Run endpoints over HTTP and the `trigger` management command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from waitpoints.models import Run, RunBlock, RunStatus
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.tokens.services.complete import token_complete

pytestmark = pytest.mark.django_db

RUN_FIELDS = {
    "id",
    "taskIdentifier",
    "status",
    "payload",
    "output",
    "error",
    "attemptCount",
    "idempotencyKey",
    "tags",
    "createdAt",
    "updatedAt",
    "startedAt",
    "finishedAt",
    "waitingOn",
}


def trigger(api, task_id, body):
    return api.post(f"/api/v1/tasks/{task_id}/trigger", body, format="json")


def test_trigger_then_retrieve_a_completed_run(api, environment):
    response = trigger(api, "test-echo", {"payload": {"n": 1}, "options": {"tags": ["x"]}})
    assert response.status_code == 200, response.content
    run_id = response.json()["id"]
    assert set(response.json()) == {"id"} and run_id.startswith("run_")

    body = api.get(f"/api/v1/runs/{run_id}").json()
    assert set(body) == RUN_FIELDS
    assert body["status"] == "QUEUED" and body["payload"] == {"n": 1} and body["tags"] == ["x"]

    run_execute(run_id=run_id)
    body = api.get(f"/api/v1/runs/{run_id}").json()
    assert body["status"] == "COMPLETED"
    assert body["output"] == {"echo": {"n": 1}}
    assert body["taskIdentifier"] == "test-echo" and body["attemptCount"] == 1
    assert body["finishedAt"] is not None and body["waitingOn"] == []


def test_idempotent_trigger_returns_the_same_run(api):
    body = {"payload": 1, "options": {"idempotencyKey": "k-1"}}
    first = trigger(api, "test-echo", body).json()["id"]
    second = trigger(api, "test-echo", {**body, "payload": 2}).json()["id"]
    assert first == second
    assert Run.objects.get(id=first).payload == 1


def test_waiting_run_shows_its_waitpoint_and_can_be_canceled(api, environment, tmp_path):
    run_id = trigger(api, "test-wait-for-token", {"payload": {"log": str(tmp_path / "l")}}).json()[
        "id"
    ]
    run_execute(run_id=run_id)
    body = api.get(f"/api/v1/runs/{run_id}").json()
    token_id = RunBlock.objects.get(run_id=run_id).waitpoint_id
    assert body["status"] == "WAITING"
    assert [(w["id"], w["type"], w["status"]) for w in body["waitingOn"]] == [
        (token_id, "MANUAL", "WAITING")
    ]

    canceled = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "CANCELED" and canceled.json()["waitingOn"] == []
    token_complete(environment=environment, token_id=token_id, data=1, via="api", actor="t")
    assert run_execute(run_id=run_id) is None
    assert Run.objects.get(id=run_id).status == RunStatus.CANCELED


def test_errors_are_json_with_the_right_status(api, other_api, anonymous_api):
    assert trigger(api, "no-such-task", {}).status_code == 404
    assert "not found" in trigger(api, "no-such-task", {}).json()["error"]
    bad_tags = trigger(api, "test-echo", {"options": {"tags": [""]}})
    assert bad_tags.status_code == 422 and "tags" in bad_tags.json()["details"]
    not_object = api.post("/api/v1/tasks/test-echo/trigger", [1], format="json")
    assert not_object.status_code == 422
    not_json = api.post("/api/v1/tasks/test-echo/trigger", "{nope", content_type="application/json")
    assert not_json.status_code == 400 and "error" in not_json.json()
    assert trigger(anonymous_api, "test-echo", {}).status_code == 401

    run_id = trigger(api, "test-echo", {}).json()["id"]
    # Another environment's run is unknown there (404, never 403).
    assert other_api.get(f"/api/v1/runs/{run_id}").status_code == 404
    assert other_api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 404
    assert api.get("/api/v1/runs/run_unknown").status_code == 404
    assert api.delete(f"/api/v1/runs/{run_id}").status_code == 405
    assert Run.objects.get(id=run_id).status == RunStatus.QUEUED


def test_trigger_command_prints_the_run_id(environment):
    out = StringIO()
    call_command(
        "trigger", "test-echo", "--payload", '{"a": 1}', "--environment", "prod", stdout=out
    )
    run_id = out.getvalue().strip().splitlines()[-1]
    run = Run.objects.get(id=run_id)
    assert run.environment == environment and run.payload == {"a": 1}
    with pytest.raises(CommandError, match="not JSON"):
        call_command("trigger", "test-echo", "--payload", "{nope")
    with pytest.raises(CommandError, match="registered tasks: .*test-echo"):
        call_command("trigger", "nope")


def test_admin_cancel_action(admin_client, environment, tmp_path):
    from waitpoints import tasks

    triggered = tasks.trigger(
        "test-wait-for-token", {"log": str(tmp_path / "l")}, environment=environment
    )
    run_execute(run_id=triggered.id)
    response = admin_client.post(
        "/admin/waitpoints/run/",
        {"action": "cancel_runs", "_selected_action": [triggered.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert Run.objects.get(id=triggered.id).status == RunStatus.CANCELED
