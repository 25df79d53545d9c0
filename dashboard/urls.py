"""Dashboard routes (mounted at /dashboard/); the approval link lives at /approve/<signed>/."""

from django.urls import path

from dashboard import decision_views, views

app_name = "dashboard"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("bulk/", views.bulk_decide, name="bulk-decide"),
    path("tokens/<str:token_id>/", views.token_detail, name="token-detail"),
    path("tokens/<str:token_id>/decide/", views.token_decide, name="token-decide"),
    path("tokens/<str:token_id>/complete/", views.token_complete_json, name="token-complete"),
    path("tokens/<str:token_id>/timeout/", views.token_timeout, name="token-timeout"),
    path("tokens/<str:token_id>/choose/", decision_views.token_choose, name="token-choose"),
    path("tokens/<str:token_id>/extend/", decision_views.token_extend, name="token-extend"),
    path("runs/<str:run_id>/", views.run_detail, name="run-detail"),
]
