"""Webhook endpoints of the caller's environment: create, list, read, change, delete, their
deliveries, and a test event. The secret is in the create answer only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from waitpoints.api.schema import error_responses
from waitpoints.api.serializers import StrictCharField, validated_body
from waitpoints.errors import InvalidInput
from waitpoints.models import SUBSCRIBABLE_EVENTS, WebhookDeliveryStatus
from waitpoints.webhooks import selectors, services

EVENTS_HELP = "Event types: " + ", ".join(SUBSCRIBABLE_EVENTS)


class CreateWebhookRequest(serializers.Serializer):
    url = StrictCharField(trim_whitespace=False, help_text="A public http(s) URL")
    events = serializers.ListField(child=StrictCharField(), help_text=EVENTS_HELP)
    description = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)


class UpdateWebhookRequest(serializers.Serializer):
    url = StrictCharField(required=False, trim_whitespace=False)
    events = serializers.ListField(child=StrictCharField(), required=False, help_text=EVENTS_HELP)
    description = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    enabled = serializers.BooleanField(required=False, help_text="true re-enables a disabled one")


class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(source="disabled_reason", allow_blank=True)
    failingSince = serializers.DateTimeField(source="failing_since", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class CreatedWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="whsec_…: shown once, in this answer only")


class WebhookListResponse(serializers.Serializer):
    data = WebhookSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The webhook-id header, the same on every attempt")
    event = serializers.CharField(source="event_type")
    subjectId = serializers.CharField(source="subject_id", allow_blank=True)
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices)
    statusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    attempts = serializers.IntegerField()
    nextRetryAt = serializers.SerializerMethodField()
    lastError = serializers.CharField(source="last_error", allow_blank=True)
    lastAttemptAt = serializers.DateTimeField(source="last_attempt_at", allow_null=True)
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")

    def get_nextRetryAt(self, delivery) -> str | None:
        if delivery.status != WebhookDeliveryStatus.PENDING or delivery.next_attempt_at is None:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class DeliveryListResponse(serializers.Serializer):
    data = DeliverySerializer(many=True)


class WebhookListCreateView(APIView):
    max_body_bytes = 64 * 1024

    @extend_schema(
        operation_id="webhooks_list",
        responses={200: WebhookListResponse, **error_responses(401, 403)},
    )
    def get(self, request):
        endpoints = selectors.endpoint_list(environment=request.user.environment)
        return Response({"data": WebhookSerializer(endpoints, many=True).data})

    @extend_schema(
        operation_id="webhooks_create",
        request={"application/json": CreateWebhookRequest},
        responses={201: CreatedWebhookSerializer, **error_responses(400, 401, 403, 413, 422)},
    )
    def post(self, request):
        fields = validated_body(request, CreateWebhookRequest)
        created = services.endpoint_create(
            environment=request.user.environment,
            url=fields["url"],
            events=fields["events"],
            description=fields.get("description", ""),
        )
        body = {**WebhookSerializer(created.endpoint).data, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    max_body_bytes = 64 * 1024

    @extend_schema(
        operation_id="webhooks_retrieve",
        responses={200: WebhookSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, webhook_id: str):
        endpoint = selectors.endpoint_get(
            environment=request.user.environment, endpoint_id=webhook_id
        )
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_update",
        request={"application/json": UpdateWebhookRequest},
        responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404, 413, 422)},
    )
    def patch(self, request, webhook_id: str):
        fields = validated_body(request, UpdateWebhookRequest)
        endpoint = services.endpoint_update(
            environment=request.user.environment,
            endpoint_id=webhook_id,
            url=fields.get("url"),
            events=fields.get("events"),
            description=fields.get("description"),
            enabled=fields.get("enabled"),
        )
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_delete",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, webhook_id: str):
        services.endpoint_delete(environment=request.user.environment, endpoint_id=webhook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries",
        parameters=[OpenApiParameter("page[size]", int, description="1–100, default 25")],
        responses={200: DeliveryListResponse, **error_responses(401, 403, 404, 422)},
    )
    def get(self, request, webhook_id: str):
        size = request.query_params.get("page[size]", "25")
        if not size.isdigit() or not 1 <= int(size) <= 100:
            raise InvalidInput({"page[size]": "must be a whole number from 1 to 100"})
        deliveries = selectors.delivery_list(
            environment=request.user.environment, endpoint_id=webhook_id, limit=int(size)
        )
        return Response({"data": DeliverySerializer(deliveries, many=True).data})


class WebhookTestView(APIView):
    @extend_schema(
        operation_id="webhooks_test",
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, webhook_id: str):
        delivery = services.endpoint_send_test(
            environment=request.user.environment, endpoint_id=webhook_id
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
