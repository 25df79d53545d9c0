from django.urls import re_path

from waitpoints.api import runs, schema, tokens, webhooks  # noqa: F401  (schema registers OpenAPI extensions)

TOKEN_ID = r"(?P<token_id>[A-Za-z0-9_\-]{1,64})"
RUN_ID = r"(?P<run_id>[A-Za-z0-9_\-]{1,64})"
TASK_ID = r"(?P<task_id>[^/]{1,200})"
WEBHOOK_ID = r"(?P<webhook_id>[A-Za-z0-9_\-]{1,64})"

urlpatterns = [
    re_path(r"^waitpoints/tokens/?$", tokens.TokenListCreateView.as_view(), name="token-list"),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/?$",
        tokens.TokenRetrieveView.as_view(),
        name="token-detail",
    ),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/complete/?$",
        tokens.TokenCompleteView.as_view(),
        name="token-complete",
    ),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/reviews/?$",
        tokens.TokenReviewView.as_view(),
        name="token-reviews",
    ),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/fail/?$", tokens.TokenFailView.as_view(), name="token-fail"
    ),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/extend/?$",
        tokens.TokenExtendView.as_view(),
        name="token-extend",
    ),
    re_path(
        rf"^waitpoints/tokens/{TOKEN_ID}/callback/(?P<callback_hash>[^/]{{1,128}})/?$",
        tokens.TokenCallbackView.as_view(),
        name="token-callback",
    ),
    # Task runs
    re_path(rf"^tasks/{TASK_ID}/trigger/?$", runs.TaskTriggerView.as_view(), name="task-trigger"),
    re_path(rf"^runs/{RUN_ID}/?$", runs.RunRetrieveView.as_view(), name="run-detail"),
    re_path(rf"^runs/{RUN_ID}/cancel/?$", runs.RunCancelView.as_view(), name="run-cancel"),
    # Outbound webhooks
    re_path(r"^webhooks/?$", webhooks.WebhookListCreateView.as_view(), name="webhook-list"),
    re_path(
        rf"^webhooks/{WEBHOOK_ID}/?$", webhooks.WebhookDetailView.as_view(), name="webhook-detail"
    ),
    re_path(
        rf"^webhooks/{WEBHOOK_ID}/deliveries/?$",
        webhooks.WebhookDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
    re_path(
        rf"^webhooks/{WEBHOOK_ID}/test/?$", webhooks.WebhookTestView.as_view(), name="webhook-test"
    ),
]
