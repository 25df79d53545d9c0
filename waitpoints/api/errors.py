"""Every API error body, in one place: `{"error": message, "code": ErrorCode, "details"?: {...}}`.

The status of an answer is always its code's status (`ErrorCode.status`).
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from waitpoints.errors import ErrorCode, WaitpointsError

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "The database is unavailable; retry shortly"

# DRF's exceptions raised without one of our codes (ours pass `code=ErrorCode...`).
_DRF_CODES = {
    exceptions.ParseError: ErrorCode.MALFORMED_JSON,
    exceptions.NotAuthenticated: ErrorCode.AUTHENTICATION_REQUIRED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.Throttled: ErrorCode.RATE_LIMITED,
}


def _flatten(detail, prefix: str = "") -> dict[str, str]:
    if isinstance(detail, dict):
        flat: dict[str, str] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "body": " ".join(str(item) for item in detail)}
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_flatten(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "body": str(detail)}


def error_body(message: str, code: ErrorCode, details: dict | None = None) -> dict:
    body = {"error": message, "code": code.value}
    if details:
        body["details"] = details
    return body


def error_response(message: str, code: ErrorCode, details: dict | None = None, headers=None):
    return Response(error_body(message, code, details), status=code.status, headers=headers)


def json_error(message: str, code: ErrorCode, details: dict | None = None) -> JsonResponse:
    """The same body outside DRF (URL resolver handlers, middleware)."""
    return JsonResponse(error_body(message, code, details), status=code.status)


def _api_exception_code(exc: exceptions.APIException) -> ErrorCode:
    try:
        return ErrorCode(getattr(exc.detail, "code", None))
    except ValueError:
        pass
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            return _DRF_CODES[cls]
    return ErrorCode.for_status(exc.status_code)


# SQLSTATE classes of a database we cannot talk to (retry: 503). Anything else a database
# raises — a statement it refuses (index row too large, bad data, a missing table) — is a bug
# that retrying cannot fix: the logged 500, never a 503 that invites retries forever.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "53400")
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")


def is_database_unavailable(exc: BaseException) -> bool:
    """A connection-level error: the database is down, restarting, full of connections."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        return str(cause).lower().startswith(_SQLITE_UNAVAILABLE)
    # psycopg raises connection failures (refused, reset, timed out) without a SQLSTATE.
    return True


def exception_handler(exc, context):
    if isinstance(exc, WaitpointsError) and exc.code.status < 500:
        return error_response(exc.message, exc.code, getattr(exc, "details", None))
    if isinstance(exc, Http404):
        return error_response(str(exc) or "Not found", ErrorCode.NOT_FOUND)
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        message = "; ".join(f"{field}: {text}" for field, text in details.items())
        return error_response(message, ErrorCode.INVALID_INPUT, details)
    if is_database_unavailable(exc):
        logger.warning("Database unavailable: %s", exc)
        return error_response(
            DATABASE_UNAVAILABLE, ErrorCode.DATABASE_UNAVAILABLE, headers={"Retry-After": "1"}
        )
    if isinstance(exc, exceptions.APIException):
        # DRF's own handler adds WWW-Authenticate, Allow and Retry-After headers.
        response = drf_exception_handler(exc, context)
        code = _api_exception_code(exc)
        if code.status != response.status_code:
            code = ErrorCode.for_status(response.status_code)
        if code.status != response.status_code:
            logger.error("API error with an undocumented status %s: %r", response.status_code, exc)
            return None  # re-raised: the logged 500
        detail = exc.detail
        message = detail if isinstance(detail, str) else "; ".join(_flatten(detail).values())
        response.data = error_body(str(message), code)
        return response
    if isinstance(exc, DatabaseError):
        logger.exception("Database error")
        return error_response("Internal server error", ErrorCode.INTERNAL_ERROR)
    return None


def json_not_found(request, exception=None):
    return json_error(f"No API endpoint at {request.path}", ErrorCode.ENDPOINT_NOT_FOUND)


def json_server_error(request):
    request_id = getattr(request, "request_id", None)
    message = "Internal server error" + (f" (request id {request_id})" if request_id else "")
    return json_error(message, ErrorCode.INTERNAL_ERROR)
