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
    output = waitpoint.output
    verdict = "Completed"
    if isinstance(output, dict) and output.get("status") in ("approved", "rejected"):
        verdict = output["status"].capitalize()
    who = f" by {waitpoint.completed_by}" if waitpoint.completed_by else ""
    return f"{verdict}{who} via {via_label(waitpoint.completed_via)}"


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
