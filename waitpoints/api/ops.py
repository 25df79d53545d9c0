"""`/healthz`, `/readyz`, `/metrics`: plain Django views for load balancers and Prometheus.

No session, no CSRF (GET only), no API key: `/metrics` takes WAITPOINTS_METRICS_TOKEN as a
bearer token when it is set. Probe requests are left out of the logs (`ops.health.QuietProbes`).
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from waitpoints.conf import waitpoints_settings
from waitpoints.ops import health, metrics


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers (nothing else is checked: no database, no broker)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker both answer in time, else 503 naming the failed."""
    checks = health.readiness()
    ready = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = waitpoints_settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
