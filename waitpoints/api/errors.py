"""One exception handler: every API error is JSON `{"error": ..., "details"?: ...}`."""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from waitpoints.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)


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


def error_response(message: str, status_code: int, details: dict | None = None, headers=None):
    body = {"error": message}
    if details:
        body["details"] = details
    return Response(body, status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, InvalidInput):
        return error_response(exc.message, 422, exc.details)
    if isinstance(exc, NotFound | Http404):
        return error_response(str(exc) or "Not found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        message = "; ".join(f"{field}: {text}" for field, text in details.items())
        return error_response(message, 422, details)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("Database unavailable: %s", exc)
        return error_response(
            "The database is unavailable; retry shortly",
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, exceptions.APIException):
        response = drf_exception_handler(exc, context)
        detail = exc.detail
        message = detail if isinstance(detail, str) else "; ".join(_flatten(detail).values())
        response.data = {"error": str(message)}
        return response
    if isinstance(exc, DatabaseError):
        logger.exception("Database error")
        return error_response("Internal server error", status.HTTP_500_INTERNAL_SERVER_ERROR)
    return None


def json_not_found(request, exception=None):
    return JsonResponse({"error": f"No API endpoint at {request.path}"}, status=404)


def json_server_error(request):
    request_id = getattr(request, "request_id", None)
    message = "Internal server error" + (f" (request id {request_id})" if request_id else "")
    return JsonResponse({"error": message}, status=500)
