"""The two wire formats of a token: ours (the default) and Trigger.dev's (for its SDK).

Ours reports every key, `null` when it has no value, and `output`/`error` as JSON values.
Trigger.dev's SDK validates responses with schemas that refuse `null` for an absent value and
parses `output` as the text its `outputType` names, because Trigger.dev's server sends
`output` JSON-encoded. A request that carries one of the headers that SDK always sends
(`x-trigger-api-version`, or `trigger-version` of older SDKs) gets Trigger.dev's format; any
caller may send one to opt in. README, "Trigger.dev's SDK and wire format".
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiParameter

TRIGGER_HEADERS = ("x-trigger-api-version", "trigger-version")

FORMAT_PARAMETERS = [
    OpenApiParameter(
        name,
        str,
        location=OpenApiParameter.HEADER,
        required=False,
        description="Any value selects Trigger.dev's wire format (sent by its SDK): keys "
        "without a value are left out, `output` is JSON text, and `error` is not sent",
    )
    for name in TRIGGER_HEADERS
]


def wants_trigger_format(request) -> bool:
    headers = request.headers
    return any(name in headers for name in TRIGGER_HEADERS)


def vary_on_format(response):
    """The answer depends on the format headers: caches must tell them apart."""
    patch_vary_headers(response, ("Authorization", *TRIGGER_HEADERS))
    return response


def json_text(value: Any) -> str:
    # As JSON.stringify writes it: compact, non-ASCII kept.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def trigger_token(token: dict[str, Any]) -> dict[str, Any]:
    """A token (or token detail) of our format in Trigger.dev's: a finished token's `output` as
    the JSON text of its value (`outputType` application/json), `error` left out (the output
    carries it, with `outputIsError`), then every key without a value left out."""
    if token.get("outputType") is not None:
        token = {**token, "output": json_text(token.get("output"))}
    return {
        key: value
        for key, value in token.items()
        if value is not None and key not in _NOT_TRIGGER_KEYS
    }


# Our extensions Trigger.dev's format has no place for (docs/architecture.md, "Who decides").
_NOT_TRIGGER_KEYS = {"error", "reviewers", "requestedBy", "approvals", "votes"}
