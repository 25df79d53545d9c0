"""The moderation demo that `make run` enables works end to end (executed in this process)."""

import pytest
from django.core import mail

import examples.moderation  # noqa: F401 (registers the "moderation" task)
from waitpoints import tasks
from waitpoints.models import Run, RunBlock
from waitpoints.runs.runtime.execute import run_execute
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.complete import token_complete, token_force_timeout

pytestmark = pytest.mark.django_db


def test_moderation_demo_notifies_once_waits_and_returns_the_decision(environment):
    triggered = tasks.trigger(
        "moderation", {"postId": 42, "text": "Hello"}, environment=environment
    )
    assert run_execute(run_id=triggered.id) == "WAITING"
    token = RunBlock.objects.get(run_id=triggered.id).waitpoint
    assert token.title == "Review post 42" and token.context["text"] == "Hello"
    assert token.tag_names == ["moderation"]
    assert len(mail.outbox) == 1
    assert callback_url(token) in mail.outbox[0].body

    token_complete(
        environment=environment,
        token_id=token.id,
        data={"approved": True, "comment": "fine", "reviewedBy": "ann"},
        via="dashboard",
        actor="ann",
    )
    assert run_execute(run_id=triggered.id) == "COMPLETED"
    assert Run.objects.get(id=triggered.id).output == {
        "postId": 42,
        "status": "approved",
        "comment": "fine",
        "reviewedBy": "ann",
    }
    assert len(mail.outbox) == 1  # the replay did not notify again


def test_moderation_demo_reports_a_timeout(environment):
    triggered = tasks.trigger("moderation", {"postId": 7}, environment=environment)
    run_execute(run_id=triggered.id)
    token = RunBlock.objects.get(run_id=triggered.id).waitpoint
    token_force_timeout(environment=environment, token_id=token.id, actor="test")
    run_execute(run_id=triggered.id)
    assert Run.objects.get(id=triggered.id).output == {"postId": 7, "status": "timed_out"}
