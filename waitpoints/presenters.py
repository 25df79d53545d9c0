"""The token and the run as the API shows them: the REST API's answers and the `data` of webhook
events, from the same serializers (below the API, so that the Celery tasks can render events).

Our JSON format; `api.wire` turns a token into Trigger.dev's format where a request asks for it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from waitpoints.models import (
    CompletionVia,
    Run,
    RunStatus,
    Waitpoint,
    WaitpointStatus,
    WebhookEvent,
)
from waitpoints.runs import selectors as run_selectors
from waitpoints.tokens.callbacks import callback_url


class ResolutionSerializer(serializers.Serializer):
    via = serializers.ChoiceField(choices=CompletionVia.choices)
    by = serializers.CharField(allow_null=True)


class TokenSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=WaitpointStatus.choices, source="current_status")
    completedAt = serializers.DateTimeField(source="result_completed_at", allow_null=True)
    timeoutAt = serializers.DateTimeField(source="timeout_at")
    idempotencyKey = serializers.CharField(source="idempotency_key", allow_null=True)
    idempotencyKeyExpiresAt = serializers.DateTimeField(
        source="idempotency_key_expires_at", allow_null=True
    )
    tags = serializers.ListField(child=serializers.CharField(), source="tag_names")
    createdAt = serializers.DateTimeField(source="created_at")
    title = serializers.CharField(allow_blank=True)
    context = serializers.JSONField(allow_null=True)
    response = serializers.JSONField(
        source="declared_response",
        allow_null=True,
        help_text="What may be answered (null: approve/reject, any data)",
    )
    resolution = ResolutionSerializer(
        allow_null=True, help_text="How a finished token ended (null while it waits)"
    )
    display = serializers.JSONField(allow_null=True)

    def get_url(self, waitpoint: Waitpoint) -> str:
        return callback_url(waitpoint)


class TokenDetailSerializer(TokenSerializer):
    output = serializers.SerializerMethodField()
    outputType = serializers.SerializerMethodField()
    outputIsError = serializers.BooleanField(source="result_is_error")
    error = serializers.SerializerMethodField()
    timeoutOutput = serializers.SerializerMethodField(
        help_text="The output the deadline completes the token with (null: it times out)"
    )

    reviewers = serializers.SerializerMethodField(
        help_text='Who may decide: {"users": [...], "groups": [...]} (null: anyone permitted)'
    )
    requestedBy = serializers.SerializerMethodField(help_text="Who asked: they may not decide")
    approvals = serializers.SerializerMethodField(help_text='{"required": N}: N must agree')
    votes = serializers.SerializerMethodField(
        help_text='Each vote: {"reviewer", "choice", "comment", "at", "via"}'
    )

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_reviewers(self, waitpoint: Waitpoint):
        return (waitpoint.policy or {}).get("reviewers")

    def get_requestedBy(self, waitpoint: Waitpoint) -> str | None:
        return waitpoint.decision_policy.requested_by or None

    @extend_schema_field(serializers.JSONField())
    def get_approvals(self, waitpoint: Waitpoint):
        return {"required": waitpoint.decision_policy.required}

    @extend_schema_field(serializers.JSONField())
    def get_votes(self, waitpoint: Waitpoint):
        return [vote.as_json() for vote in waitpoint.votes.all()]

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_output(self, waitpoint: Waitpoint):
        return waitpoint.result_output if waitpoint.is_finished else None

    def get_outputType(self, waitpoint: Waitpoint) -> str | None:
        return "application/json" if waitpoint.is_finished else None

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_timeoutOutput(self, waitpoint: Waitpoint):
        return waitpoint.timeout_output["value"] if waitpoint.deadline_decides else None

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_error(self, waitpoint: Waitpoint):
        return waitpoint.result_output if waitpoint.result_is_error else None


class RunWaitpointSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(source="kind", help_text="MANUAL (a token) or DATETIME (a sleep)")
    status = serializers.ChoiceField(choices=WaitpointStatus.choices, source="current_status")
    timeoutAt = serializers.DateTimeField(source="timeout_at")


class RunSerializer(serializers.Serializer):
    id = serializers.CharField()
    taskIdentifier = serializers.CharField(source="task_id")
    status = serializers.ChoiceField(choices=RunStatus.choices)
    payload = serializers.JSONField()
    output = serializers.JSONField()
    error = serializers.JSONField()
    attemptCount = serializers.IntegerField(source="attempt_count")
    idempotencyKey = serializers.CharField(source="idempotency_key", allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    waitingOn = serializers.SerializerMethodField(help_text="The waitpoints a WAITING run waits on")

    @extend_schema_field(RunWaitpointSerializer(many=True))
    def get_waitingOn(self, run: Run) -> list[dict]:
        waitpoints: list[Waitpoint] = run_selectors.run_waiting_on(run)
        return RunWaitpointSerializer(waitpoints, many=True).data


def webhook_event_data(event_type: str, subject_id: str, environment_id: int) -> dict[str, Any]:
    """A webhook event's `data`: the token (as `GET /waitpoints/tokens/{id}` returns it) or the
    run (as `GET /runs/{id}`), or just its id if it no longer exists."""
    if event_type.startswith("waitpoint."):
        waitpoint = (
            Waitpoint.objects.select_related("environment")
            .prefetch_related("tags")
            .filter(id=subject_id, environment_id=environment_id)
            .first()
        )
        return dict(TokenDetailSerializer(waitpoint).data) if waitpoint else {"id": subject_id}
    if event_type.startswith("run."):
        run = Run.objects.filter(id=subject_id, environment_id=environment_id).first()
        return dict(RunSerializer(run).data) if run else {"id": subject_id}
    if event_type == WebhookEvent.TEST:
        return {"message": "A test event"}
    return {"id": subject_id}
