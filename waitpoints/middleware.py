"""Request-level rules: a request id on every response, no body without Content-Length, and
the Content-Security-Policy header."""

import re
import uuid

from django.conf import settings

from waitpoints.api.errors import json_error
from waitpoints.errors import ErrorCode

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Give every request an id (kept from X-Request-ID when sane) and echo it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class LengthRequiredMiddleware:
    """Refuse a request body sent without Content-Length (chunked) with 411.

    Under WSGI, Django reads only Content-Length bytes: a chunked body would silently reach the
    views as empty (a create with defaults instead of the caller's fields) and escape the
    413 size limits. Every HTTP/1.1 client can send Content-Length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return json_error(
                "Request bodies must be sent with Content-Length, not chunked",
                ErrorCode.LENGTH_REQUIRED,
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send `settings.CONTENT_SECURITY_POLICY` (Django 5.2 has no CSP of its own) on every
    response that has none yet; an empty policy sends nothing. A view that needs another
    policy (the Swagger page's inline script) sets its own header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
