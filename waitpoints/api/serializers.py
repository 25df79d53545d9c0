"""Request shapes and response renderings of the API (camelCase, as Trigger.dev)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from waitpoints.errors import ErrorCode
from waitpoints.models import Waitpoint, WaitpointStatus
from waitpoints.tokens import public_access
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.create import CreatedToken


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers instead of turning them into text (as the schema
    says `type: string`, and as Trigger.dev's validation does)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CreateTokenRequest(serializers.Serializer):
    # Lengths, durations and tags are checked by the service (the same rules as the SDK).
    idempotencyKey = StrictCharField(required=False, allow_null=True, trim_whitespace=False)
    idempotencyKeyTTL = StrictCharField(required=False, allow_null=True)
    timeout = StrictCharField(
        required=False, allow_null=True, help_text="A duration (30s, 1h30m, 4w) or ISO 8601 date"
    )
    tags = serializers.JSONField(required=False, allow_null=True, help_text="A tag or a list")
    title = StrictCharField(required=False, allow_blank=True, trim_whitespace=False)
    context = serializers.JSONField(required=False, allow_null=True)
    notify = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="Extension: email addresses that each get signed Approve/Reject links",
    )


class CompleteTokenRequest(serializers.Serializer):
    data = serializers.JSONField(required=False, allow_null=True)


class CreatedTokenResponse(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField(read_only=True)
    isCached = serializers.BooleanField()
    publicAccessToken = serializers.CharField(read_only=True)

    def to_representation(self, created: CreatedToken) -> dict:
        # The fields above document the shape. Filled directly, the API's hottest response skips
        # DRF's per-request copy of every field (docs/benchmarks.md, P1).
        waitpoint = created.waitpoint
        return {
            "id": waitpoint.id,
            "url": callback_url(waitpoint),
            "isCached": created.is_cached,
            "publicAccessToken": public_access.issue(waitpoint),
        }


# The approval links' codes answer HTML pages of the dashboard, never the API.
_DASHBOARD_CODES = {ErrorCode.INVALID_APPROVAL_LINK, ErrorCode.APPROVAL_LINK_EXPIRED}
API_ERROR_CODES = [
    (code.value, f"HTTP {code.status}") for code in ErrorCode if code not in _DASHBOARD_CODES
]


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField(help_text="A message for people; it may change")
    code = serializers.ChoiceField(
        choices=API_ERROR_CODES,
        help_text="Stable and machine-readable: one HTTP status per code",
    )
    details = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Each invalid field and why"
    )


class SuccessResponse(serializers.Serializer):
    success = serializers.BooleanField()


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

    def get_url(self, waitpoint: Waitpoint) -> str:
        return callback_url(waitpoint)


class TokenDetailSerializer(TokenSerializer):
    output = serializers.SerializerMethodField()
    outputType = serializers.SerializerMethodField()
    outputIsError = serializers.BooleanField(source="result_is_error")
    error = serializers.SerializerMethodField()

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_output(self, waitpoint: Waitpoint):
        return waitpoint.result_output if waitpoint.is_finished else None

    def get_outputType(self, waitpoint: Waitpoint) -> str | None:
        return "application/json" if waitpoint.is_finished else None

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_error(self, waitpoint: Waitpoint):
        return waitpoint.result_output if waitpoint.result_is_error else None


class PaginationSerializer(serializers.Serializer):
    next = serializers.CharField(required=False)
    previous = serializers.CharField(required=False)


class TokenListResponse(serializers.Serializer):
    data = TokenSerializer(many=True)
    pagination = PaginationSerializer()
