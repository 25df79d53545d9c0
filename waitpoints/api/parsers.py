"""JSON body parsing with a per-view size limit (413) and strict JSON (400)."""

import json

from rest_framework import exceptions, parsers, status

from waitpoints.errors import ErrorCode

DEFAULT_MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large"
    default_code = ErrorCode.PAYLOAD_TOO_LARGE


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_limited(stream, parser_context) -> bytes:
    view = parser_context.get("view")
    limit = getattr(view, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    request = parser_context.get("request")
    declared = request.META.get("CONTENT_LENGTH") if request is not None else None
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    return body


def loads_strict(body: bytes):
    """Like json.loads, but NaN/Infinity, invalid UTF-8 and runaway nesting are errors."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise exceptions.ParseError("Request body is not valid UTF-8") from None
    except RecursionError:
        raise exceptions.ParseError("Request body JSON is nested too deeply") from None
    except ValueError as exc:
        raise exceptions.ParseError(f"Request body is not valid JSON: {exc}") from None


class BoundedJSONParser(parsers.BaseParser):
    # Any content type: `curl -d '{...}'` sends form encoding but means JSON.
    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream, parser_context or {})
        if not body.strip():
            return {}
        return loads_strict(body)


class LenientJSONParser(BoundedJSONParser):
    """For callback URLs: whatever is not JSON becomes `{}` (Trigger.dev's behaviour)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except exceptions.ParseError:
            return {}
