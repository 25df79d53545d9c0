from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerView

from config.api_docs import api_docs
from dashboard import decision_views
from dashboard import views as dashboard_views
from waitpoints.api import ops
from waitpoints.api.errors import json_not_found, json_server_error
from waitpoints.api.schema import SchemaView

urlpatterns = [
    # Probes and metrics for load balancers, Kubernetes and Prometheus (README, "Production").
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    # Browsers ask for /favicon.ico on pages without an icon link (admin, API docs).
    path(
        "favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True)
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("waitpoints.api.urls")),
    path("api/schema/", api_docs(SchemaView.as_view()), name="schema"),
    path("api/docs/", api_docs(SpectacularSwaggerView.as_view(url_name="schema")), name="api-docs"),
    # Reviewer dashboard, its login, and the emailed approval links (docs/architecture.md).
    path("", dashboard_views.home, name="home"),
    path("dashboard/", include("dashboard.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("approve/<str:signed>/", decision_views.approval_link, name="approval-link"),
]


def handler404(request, exception):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)
