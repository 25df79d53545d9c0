"""Formatting helpers for dashboard and email templates (views pass plain data)."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone

from waitpoints.models import CompletionVia, Waitpoint, WaitpointStatus

register = template.Library()

VIA_LABELS = {
    CompletionVia.API: "the API",
    CompletionVia.CALLBACK: "its callback URL",
    CompletionVia.DASHBOARD: "the dashboard",
    CompletionVia.EMAIL: "an emailed link",
    CompletionVia.TIMEOUT: "timeout",
    CompletionVia.SDK: "the Python SDK",
    CompletionVia.FAIL: "a failure report",
}


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@register.filter
def via_label(via: str) -> str:
    return VIA_LABELS.get(via, via or "unknown")


def describe_outcome(waitpoint: Waitpoint) -> str:
    """One sentence saying how a finished token ended: "Approved by alice via the dashboard"."""
    status = waitpoint.current_status
    if status == WaitpointStatus.WAITING:
        return "Waiting"
    if status == WaitpointStatus.TIMED_OUT:
        moment = waitpoint.result_completed_at or waitpoint.timeout_at
        return f"Timed out at {moment:%Y-%m-%d %H:%M:%S} UTC"
    output = waitpoint.result_output
    resolution = waitpoint.resolution or {}
    verdict = "Completed"
    if isinstance(output, dict) and output.get("status") in ("approved", "rejected"):
        verdict = output["status"].capitalize()
    elif isinstance(output, dict) and "choice" in output:
        verdict = "Chose " + ", ".join(_labels(waitpoint, output["choice"]))
    if resolution.get("via") == CompletionVia.FAIL:
        message = output.get("message", "") if isinstance(output, dict) else ""
        verdict = f"Failed ({message})" if message else "Failed"
    who = f" by {resolution['by']}" if resolution.get("by") else ""
    if resolution.get("via") == CompletionVia.TIMEOUT:
        return f"{verdict} by the deadline"
    return f"{verdict}{who} via {via_label(resolution.get('via', ''))}"


def _labels(waitpoint: Waitpoint, choice: Any) -> list[str]:
    values = choice if isinstance(choice, list) else [choice]
    contract = waitpoint.contract
    return [
        option.label if (option := contract.option(value)) else str(value)
        for value in values
        if isinstance(value, str)
    ]


register.filter("outcome", describe_outcome)


@register.filter
def verdict(waitpoint: Waitpoint) -> str:
    """ "approved" / "rejected" for a reviewer decision, else the status in lower case."""
    output = waitpoint.output
    if (
        waitpoint.current_status == WaitpointStatus.COMPLETED
        and isinstance(output, dict)
        and output.get("status") in ("approved", "rejected")
    ):
        return output["status"]
    return waitpoint.current_status.lower().replace("_", "-")


@register.filter
def seconds_left(waitpoint: Waitpoint) -> int:
    return max(0, int((waitpoint.timeout_at - timezone.now()).total_seconds()))


@register.filter
def short_id(token_id: str) -> str:
    """`waitpoint_AbCdEf…` → the distinguishing part, for narrow columns."""
    return token_id.removeprefix("waitpoint_")


@register.filter
def ago(moment) -> str:
    """ "just now" under a minute, else Django's timesince ("3 hours, 2 minutes ago")."""
    from django.utils.timesince import timesince

    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
