"""Task-run endpoints: trigger a task, retrieve a run, cancel a run."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from waitpoints.api.schema import error_responses
from waitpoints.api.serializers import StrictCharField, validated_body
from waitpoints.presenters import RunSerializer
from waitpoints.runs import selectors
from waitpoints.runs.services import trigger as services

TRIGGER_MAX_BODY_BYTES = 3 * 1024 * 1024


class TriggerOptions(serializers.Serializer):
    # Lengths and tag rules are checked by the service (the same rules as the SDK).
    idempotencyKey = StrictCharField(required=False, allow_null=True, trim_whitespace=False)
    tags = serializers.JSONField(required=False, allow_null=True, help_text="A tag or a list")


class TriggerRequest(serializers.Serializer):
    payload = serializers.JSONField(required=False, allow_null=True)
    options = TriggerOptions(required=False, allow_null=True)


class TriggerResponse(serializers.Serializer):
    id = serializers.CharField()


class TaskTriggerView(APIView):
    max_body_bytes = TRIGGER_MAX_BODY_BYTES

    @extend_schema(
        operation_id="tasks_trigger",
        request={"application/json": TriggerRequest},
        responses={200: TriggerResponse, **error_responses(400, 401, 403, 404, 413, 422)},
    )
    def post(self, request, task_id: str):
        fields = validated_body(request, TriggerRequest)
        options = fields.get("options") or {}
        triggered = services.run_trigger(
            environment=request.user.environment,
            task_id=task_id,
            payload=fields.get("payload"),
            idempotency_key=options.get("idempotencyKey"),
            tags=options.get("tags"),
        )
        return Response({"id": triggered.id})


class RunRetrieveView(APIView):
    @extend_schema(
        operation_id="runs_retrieve",
        responses={200: RunSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, run_id: str):
        run = selectors.run_get(environment=request.user.environment, run_id=run_id)
        return Response(RunSerializer(run).data)


class RunCancelView(APIView):
    @extend_schema(
        operation_id="runs_cancel",
        request=None,
        responses={200: RunSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, run_id: str):
        services.run_cancel(environment=request.user.environment, run_id=run_id)
        run = selectors.run_get(environment=request.user.environment, run_id=run_id)
        return Response(RunSerializer(run).data)
