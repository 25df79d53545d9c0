"""Request shapes and response renderings of the API (camelCase, as Trigger.dev)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from waitpoints.errors import ErrorCode, InvalidInput
from waitpoints.models import WaitpointStatus
from waitpoints.presenters import ResolutionSerializer, TokenDetailSerializer, TokenSerializer
from waitpoints.tokens import public_access
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.create import CreatedToken

# The token's representations live in `waitpoints.presenters` (webhook events use them too).
__all__ = ["TokenDetailSerializer", "TokenSerializer"]


def validated_body(request, serializer_class) -> dict:
    """The request's JSON object checked by `serializer_class` (422 naming each bad field)."""
    if not isinstance(request.data, dict):
        raise InvalidInput({"body": "must be a JSON object"}, "Request body must be a JSON object")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers instead of turning them into text (as the schema
    says `type: string`, and as Trigger.dev's validation does)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class OptionSchema(serializers.Serializer):
    value = serializers.CharField(max_length=64, help_text="Unique among the options")
    label = serializers.CharField(required=False, max_length=100)
    style = serializers.ChoiceField(
        choices=["primary", "danger", "default"], required=False, default="default"
    )
    requireComment = serializers.BooleanField(required=False, default=False)


class ResponseSchema(serializers.Serializer):
    """Schema only: `waitpoints.decisions` checks a `response` (README, "Decisions")."""

    options = OptionSchema(
        many=True,
        required=False,
        help_text="1-10 choices; without them: Approve (approved) and Reject (rejected)",
    )
    multiple = serializers.BooleanField(
        required=False, default=False, help_text="Several options may be chosen (a list)"
    )
    schema = serializers.JSONField(
        required=False,
        help_text="A JSON Schema (draft 2020-12) of an object whose properties are the form's "
        "fields: string (maxLength, pattern, format date/date-time/email/uri, enum), "
        "number/integer (minimum, maximum), boolean, array of enum strings; required, title, "
        "description, default. Any other keyword is refused (422).",
    )


@extend_schema_field(ResponseSchema(allow_null=True))
class ResponseField(serializers.JSONField):
    """Any JSON here: the service checks it and names the bad part (422)."""


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
    display = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Extension: how people see the context, by key (dotted for nested ones): "
        '{"amount": "money:EUR", "body": "markdown", "url": "link"}; formats: text, markdown, '
        "link, date, datetime, number, money:<currency>, json, hidden",
    )
    notify = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="Extension: email addresses that each get one signed link per option",
    )
    response = ResponseField(
        required=False,
        allow_null=True,
        help_text="Extension: what may be answered; completions must satisfy it",
    )
    timeoutOutput = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Extension: at the deadline the token ends COMPLETED with this output "
        "(resolution.via = timeout) instead of TIMED_OUT; it must satisfy `response`",
    )

    reviewers = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Extension: {"users": [username or email], "groups": [group name]}: only they '
        "may decide (an email address that is no user: an outside approver who gets links)",
    )
    requestedBy = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="Extension: the username or email of whoever asked; they may never decide",
    )
    approvals = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Extension: {"required": N} (1-20): N people must approve; one rejection '
        "ends it rejected",
    )
    remind = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Extension: {"every": "4h", "max": 10}: re-send the approval email to the '
        "assigned and notified people who have not voted",
    )
    escalate = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='Extension: {"after": "24h", "to": [emails or usernames]}: then they become '
        "reviewers too and are emailed",
    )


class ReviewRequest(serializers.Serializer):
    reviewer = StrictCharField(
        max_length=320, help_text="The username or email address of the person voting"
    )
    choice = serializers.JSONField(
        help_text='"approved", "rejected" or one of the token\'s option values (a list when '
        "`multiple`)"
    )
    comment = StrictCharField(required=False, allow_blank=True, max_length=5000, default="")
    fields = serializers.JSONField(required=False, allow_null=True)


class CompleteTokenRequest(serializers.Serializer):
    data = serializers.JSONField(required=False, allow_null=True)


class FailureSchema(serializers.Serializer):
    message = serializers.CharField()
    name = serializers.CharField(required=False)
    data = serializers.JSONField(required=False)


@extend_schema_field(FailureSchema)
class FailureField(serializers.JSONField):
    """Any JSON here: the service checks it and names the bad part (422)."""


class FailTokenRequest(serializers.Serializer):
    error = FailureField(help_text="The token ends with outputIsError and this as its output")


class ExtendTokenRequest(serializers.Serializer):
    timeout = StrictCharField(
        help_text="The new deadline: a duration from now (2h) or an ISO 8601 date, later than "
        "the current one"
    )


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


class PaginationSerializer(serializers.Serializer):
    next = serializers.CharField(required=False)
    previous = serializers.CharField(required=False)


class TokenListResponse(serializers.Serializer):
    data = TokenSerializer(many=True)
    pagination = PaginationSerializer()


# --- Trigger.dev's wire format (api.wire renders it; these classes only document it) -------------


class TriggerTokenSerializer(serializers.Serializer):
    """A token in Trigger.dev's format: a key without a value is left out, never null."""

    id = serializers.CharField()
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=WaitpointStatus.choices)
    completedAt = serializers.DateTimeField(required=False)
    timeoutAt = serializers.DateTimeField()
    idempotencyKey = serializers.CharField(required=False)
    idempotencyKeyExpiresAt = serializers.DateTimeField(required=False)
    tags = serializers.ListField(child=serializers.CharField())
    createdAt = serializers.DateTimeField()
    title = serializers.CharField(allow_blank=True)
    context = serializers.JSONField(required=False)
    response = serializers.JSONField(required=False)
    resolution = ResolutionSerializer(required=False)


class TriggerTokenDetailSerializer(TriggerTokenSerializer):
    output = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A finished token's output (for TIMED_OUT, its error) as JSON text",
    )
    outputType = serializers.CharField(required=False)
    outputIsError = serializers.BooleanField()
    timeoutOutput = serializers.JSONField(required=False)


class TriggerTokenListResponse(serializers.Serializer):
    data = TriggerTokenSerializer(many=True)
    pagination = PaginationSerializer()


class AnyWireFormat(serializers.Serializer):
    """Schema only: the answer is one of `formats` (api.schema maps it to an anyOf)."""

    formats: tuple[type[serializers.Serializer], ...] = ()


class TokenDetailAnyFormat(AnyWireFormat):
    """Ours by default; Trigger.dev's when the request has an x-trigger-api-version or
    trigger-version header."""

    formats = (TokenDetailSerializer, TriggerTokenDetailSerializer)


class TokenListAnyFormat(AnyWireFormat):
    """Ours by default; Trigger.dev's when the request has an x-trigger-api-version or
    trigger-version header."""

    formats = (TokenListResponse, TriggerTokenListResponse)
