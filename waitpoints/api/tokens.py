"""REST API views: each validates input, calls one service or selector, renders the result."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from waitpoints.api import serializers, wire
from waitpoints.api.auth import CanCompleteToken, HasSecretKey
from waitpoints.api.filters import parse_list_query
from waitpoints.api.parsers import LenientJSONParser
from waitpoints.api.schema import error_responses
from waitpoints.api.throttles import ApiKeyThrottle, charge_notify_emails
from waitpoints.decisions.contract import NOT_GIVEN
from waitpoints.errors import ErrorCode, NotFound
from waitpoints.models import CompletionVia
from waitpoints.tokens import selectors
from waitpoints.tokens.callbacks import callback_hash_matches
from waitpoints.tokens.services.complete import token_complete, token_fail
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.extend import token_extend
from waitpoints.tokens.services.vote import token_vote

COMPLETE_MAX_BODY_BYTES = 3 * 1024 * 1024


class InvalidCallbackHash(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid callback URL hash"
    default_code = ErrorCode.INVALID_CALLBACK_HASH


LIST_PARAMETERS = [
    OpenApiParameter(
        "filter[status]", str, description="Comma list of WAITING, COMPLETED, TIMED_OUT"
    ),
    OpenApiParameter("filter[idempotencyKey]", str),
    OpenApiParameter("filter[tags]", str, description="Comma list: tokens with any of them"),
    OpenApiParameter("filter[createdAt][period]", str, description="A duration, e.g. 1d"),
    OpenApiParameter("filter[createdAt][from]", str, description="Epoch ms or ISO 8601 date"),
    OpenApiParameter("filter[createdAt][to]", str, description="Epoch ms or ISO 8601 date"),
    OpenApiParameter("page[size]", int, description="1–100, default 25"),
    OpenApiParameter("page[after]", str),
    OpenApiParameter("page[before]", str),
    *wire.FORMAT_PARAMETERS,
]

# The SDK of Trigger.dev reads the public access token from this header of the create answer.
JWT_HEADER = OpenApiParameter(
    "x-trigger-jwt",
    str,
    location=OpenApiParameter.HEADER,
    response=[200],
    description="The publicAccessToken again, where Trigger.dev's SDK reads it",
)


class TokenListCreateView(APIView):
    max_body_bytes = 64 * 1024
    throttle_classes = [ApiKeyThrottle]
    throttle_kinds = {"GET": "list", "POST": "create"}

    @extend_schema(
        operation_id="waitpoints_tokens_list",
        parameters=LIST_PARAMETERS,
        responses={200: serializers.TokenListAnyFormat, **error_responses(401, 403, 422, 429)},
    )
    def get(self, request):
        query = parse_list_query(request.query_params)
        tokens = selectors.token_list(environments=request.user.environment, filters=query.filters)
        page = selectors.paginate(tokens, size=query.size, after=query.after, before=query.before)
        pagination = {}
        if page.next_cursor:
            pagination["next"] = page.next_cursor
        if page.previous_cursor:
            pagination["previous"] = page.previous_cursor
        data = serializers.TokenSerializer(page.items, many=True).data
        if wire.wants_trigger_format(request):
            data = [wire.trigger_token(item) for item in data]
        return wire.vary_on_format(Response({"data": data, "pagination": pagination}))

    @extend_schema(
        operation_id="waitpoints_tokens_create",
        request={"application/json": serializers.CreateTokenRequest},
        parameters=[JWT_HEADER],
        responses={
            200: serializers.CreatedTokenResponse,
            **error_responses(400, 401, 403, 413, 422, 429),
        },
    )
    def post(self, request):
        fields = serializers.validated_body(request, serializers.CreateTokenRequest)
        created = token_create(
            environment=request.user.environment,
            timeout=fields.get("timeout"),
            idempotency_key=fields.get("idempotencyKey"),
            idempotency_key_ttl=fields.get("idempotencyKeyTTL"),
            tags=fields.get("tags"),
            title=fields.get("title", ""),
            context=fields.get("context"),
            display=fields.get("display"),
            # An empty list asks for no email, as leaving it out does.
            notify=fields.get("notify") or None,
            notify_sent_by=request.user.actor,
            charge_notify=lambda count: charge_notify_emails(request, count),
            response=fields.get("response"),
            timeout_output=fields.get("timeoutOutput", NOT_GIVEN),
            reviewers=fields.get("reviewers"),
            requested_by=fields.get("requestedBy"),
            approvals=fields.get("approvals"),
            remind=fields.get("remind"),
            escalate=fields.get("escalate"),
        )
        body = serializers.CreatedTokenResponse(created).data
        return Response(body, headers={"x-trigger-jwt": body["publicAccessToken"]})


class TokenRetrieveView(APIView):
    @extend_schema(
        operation_id="waitpoints_tokens_retrieve",
        parameters=wire.FORMAT_PARAMETERS,
        responses={200: serializers.TokenDetailAnyFormat, **error_responses(401, 403, 404)},
    )
    def get(self, request, token_id: str):
        waitpoint = selectors.token_get(environment=request.user.environment, token_id=token_id)
        data = serializers.TokenDetailSerializer(waitpoint).data
        if wire.wants_trigger_format(request):
            data = wire.trigger_token(data)
        return wire.vary_on_format(Response(data))


class TokenCompleteView(APIView):
    permission_classes = [CanCompleteToken]
    throttle_classes = [ApiKeyThrottle]
    throttle_kinds = {"POST": "complete"}
    max_body_bytes = COMPLETE_MAX_BODY_BYTES

    @extend_schema(
        operation_id="waitpoints_tokens_complete",
        request={"application/json": serializers.CompleteTokenRequest},
        responses={
            200: serializers.SuccessResponse,
            **error_responses(400, 401, 403, 404, 413, 422, 429),
        },
    )
    def post(self, request, token_id: str):
        fields = serializers.validated_body(request, serializers.CompleteTokenRequest)
        token_complete(
            environment=request.user.environment,
            token_id=token_id,
            data=fields.get("data"),
            via=CompletionVia.API,
            actor=request.user.actor,
        )
        return Response({"success": True})


class TokenReviewView(APIView):
    """A vote for a person, by an integration acting for them (a chat bot, an internal tool).
    The secret key only: a token's public access token (handed to browsers) must not speak for
    reviewers."""

    permission_classes = [HasSecretKey]
    throttle_classes = [ApiKeyThrottle]
    throttle_kinds = {"POST": "complete"}
    max_body_bytes = 64 * 1024

    @extend_schema(
        operation_id="waitpoints_tokens_review",
        description="Record one person's vote. The token finishes when `approvals.required` "
        "people chose the same option, or at once on a rejection (a veto). 403 when the "
        "reviewer may not decide it (not assigned, or its requester); 409 when they already "
        "voted or the token is finished; 422 for a choice the token does not offer.",
        request={"application/json": serializers.ReviewRequest},
        responses={
            200: serializers.TokenDetailSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 422, 429),
        },
    )
    def post(self, request, token_id: str):
        fields = serializers.validated_body(request, serializers.ReviewRequest)
        token_vote(
            environment=request.user.environment,
            token_id=token_id,
            reviewer=fields["reviewer"],
            choice=fields["choice"],
            comment=fields.get("comment", ""),
            fields=fields.get("fields"),
            via=CompletionVia.API,
        )
        waitpoint = selectors.token_get(environment=request.user.environment, token_id=token_id)
        return Response(serializers.TokenDetailSerializer(waitpoint).data)


class TokenFailView(APIView):
    permission_classes = [CanCompleteToken]
    throttle_classes = [ApiKeyThrottle]
    throttle_kinds = {"POST": "complete"}
    max_body_bytes = COMPLETE_MAX_BODY_BYTES

    @extend_schema(
        operation_id="waitpoints_tokens_fail",
        description="The outside system reports failure: the token ends COMPLETED with "
        '`outputIsError: true`, this error as its output and `resolution.via` "fail"; a '
        "run waiting on it resumes with ok=False. First finish wins: a finished token is left "
        "as it is.",
        request={"application/json": serializers.FailTokenRequest},
        responses={
            200: serializers.SuccessResponse,
            **error_responses(400, 401, 403, 404, 413, 422, 429),
        },
    )
    def post(self, request, token_id: str):
        fields = serializers.validated_body(request, serializers.FailTokenRequest)
        token_fail(
            environment=request.user.environment,
            token_id=token_id,
            error=fields.get("error"),
            actor=request.user.actor,
        )
        return Response({"success": True})


class TokenExtendView(APIView):
    permission_classes = [CanCompleteToken]
    throttle_classes = [ApiKeyThrottle]
    throttle_kinds = {"POST": "complete"}
    max_body_bytes = 4 * 1024

    @extend_schema(
        operation_id="waitpoints_tokens_extend",
        description="Move a WAITING token's deadline later (409 once it is finished).",
        request={"application/json": serializers.ExtendTokenRequest},
        responses={
            200: serializers.TokenSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 422, 429),
        },
    )
    def post(self, request, token_id: str):
        fields = serializers.validated_body(request, serializers.ExtendTokenRequest)
        waitpoint = token_extend(
            environment=request.user.environment,
            token_id=token_id,
            timeout=fields["timeout"],
            actor=request.user.actor,
            via=CompletionVia.API,
        )
        waitpoint = selectors.token_get(environment=request.user.environment, token_id=waitpoint.id)
        return Response(serializers.TokenSerializer(waitpoint).data)


class TokenCallbackView(APIView):
    """The token's callback URL: the hash in the path is the only credential."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [LenientJSONParser]
    max_body_bytes = COMPLETE_MAX_BODY_BYTES

    @extend_schema(
        operation_id="waitpoints_tokens_callback",
        # Any JSON becomes the output (a body that is not JSON counts as `{}`).
        request={"application/json": OpenApiTypes.ANY},
        # An unknown id is a wrong hash too (401): the URL leaks nothing.
        responses={200: serializers.SuccessResponse, **error_responses(401, 404, 413, 422)},
    )
    def post(self, request, token_id: str, callback_hash: str):
        try:
            waitpoint = selectors.token_get(environment=None, token_id=token_id)
        except NotFound:
            waitpoint = None
        if waitpoint is None or not callback_hash_matches(waitpoint, callback_hash):
            # Same answer for an unknown id and a wrong hash: the URL leaks nothing.
            raise InvalidCallbackHash()
        token_complete(
            environment=waitpoint.environment,
            token_id=token_id,
            data=request.data,
            via=CompletionVia.CALLBACK,
            actor="callback",
        )
        return Response({"success": True})
