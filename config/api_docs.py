"""`/api/docs/` and `/api/schema/` as WAITPOINTS_API_DOCS says (README, "Production")."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404

from waitpoints.conf import waitpoints_settings

# Swagger UI starts from an inline script: its page gets this policy instead of the default.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def api_docs(view):
    """`public`, `login` (staff signed in; anyone else goes to the login page) or `off` (404),
    read per request."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        mode = waitpoints_settings.api_docs
        if mode == "off":
            raise Http404("API docs are off")
        if mode == "login" and not request.user.is_staff:
            return redirect_to_login(request.get_full_path())
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response

    return guarded
