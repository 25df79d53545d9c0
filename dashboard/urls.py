"""Dashboard routes (mounted at /dashboard/); the approval link lives at /approve/<signed>/."""

from django.urls import path

from dashboard import actions, decision_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bulk/", actions.bulk_decide, name="bulk-decide"),
    path("bulk/undo/", actions.bulk_undo, name="bulk-undo"),
    path("tokens/<str:token_id>/", views.token_detail, name="token-detail"),
    path("tokens/<str:token_id>/decide/", actions.token_decide, name="token-decide"),
    # The same view under issue 11's name: one decision path, through the undo window.
    path("tokens/<str:token_id>/choose/", actions.token_decide, name="token-choose"),
    path("tokens/<str:token_id>/undo/", actions.token_undo, name="token-undo"),
    path("tokens/<str:token_id>/complete/", actions.token_complete_json, name="token-complete"),
    path("tokens/<str:token_id>/timeout/", actions.token_timeout, name="token-timeout"),
    path("tokens/<str:token_id>/extend/", decision_views.token_extend, name="token-extend"),
    path("runs/<str:run_id>/", views.run_detail, name="run-detail"),
]
