"""Dashboard routes (mounted at /dashboard/); the approval link lives at /approve/<signed>/."""

from django.urls import path

from dashboard import actions, views

app_name = "dashboard"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bulk/", actions.bulk_decide, name="bulk-decide"),
    path("bulk/undo/", actions.bulk_undo, name="bulk-undo"),
    path("tokens/<str:token_id>/", views.token_detail, name="token-detail"),
    path("tokens/<str:token_id>/decide/", actions.token_decide, name="token-decide"),
    path("tokens/<str:token_id>/undo/", actions.token_undo, name="token-undo"),
    path("tokens/<str:token_id>/complete/", actions.token_complete_json, name="token-complete"),
    path("tokens/<str:token_id>/timeout/", actions.token_timeout, name="token-timeout"),
    path("runs/<str:run_id>/", views.run_detail, name="run-detail"),
]
