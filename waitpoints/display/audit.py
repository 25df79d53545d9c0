"""The audit trail as sentences: "Rejected by anna — 'spam' (dashboard)", "Timed out by bob
(forced)", "Approval email sent to x@example.com (API key 'billing service')".

Data-driven: an action is one entry of `SENTENCES` (a template over the parts below) and a kind
of decision one entry of `DECISIONS`, so a new audit action or output shape is one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_QUOTED = 200

# Each template may use: {decision} {vote} {by} {comment} {error} {how} {to} {people} {number}
# {sender}; unknown actions read
# "<action> {by}{how}".
SENTENCES = {
    "created": "Created{by}{how}",
    "completed": "{decision}{by}{comment}{how}",
    "timed_out": "Timed out (deadline passed)",
    "forced_timeout": "Timed out{by} (forced)",
    "email_sent": "Approval email sent to {to}{sender}",
    "failed": "Failed{by}{error}{how}",
    "extended": "Deadline extended to {to}{by}{how}",
    "voted": "Vote: {vote}{by}{comment}{how}",
    "reminder_sent": "Reminder {number} sent to {people}",
    "escalated": "Escalated to {people}",
}

VIA_NAMES = {
    "api": "API",
    "callback": "callback URL",
    "dashboard": "dashboard",
    "email": "emailed link",
    "sdk": "Python SDK",
    "timeout": "the deadline decided",
    "fail": "",  # "Failed …" already says it
}

# The first rule that matches a completion's output names the decision.
DECISIONS: list[Callable[[Any], str | None]] = [
    lambda output: (
        {"approved": "Approved", "rejected": "Rejected"}.get(output.get("status"))
        if isinstance(output, dict) and isinstance(output.get("status"), str)
        else None
    ),
    lambda output: (
        f"Chose {_quoted(output['choice'])}"
        if isinstance(output, dict) and "choice" in output
        else None
    ),
]

# Actors that are not people, as they read after "by".
ACTOR_NAMES = {"public-access-token": "a public access token", "sdk": "the Python SDK"}


@dataclass(frozen=True)
class AuditLine:
    action: str
    sentence: str
    created_at: datetime


def audit_line(event: Any) -> AuditLine:
    """One stored audit event (action, via, actor, data, created_at) as a sentence."""
    template = SENTENCES.get(
        event.action, event.action.replace("_", " ").capitalize() + "{by}{how}"
    )
    parts = _Parts(event)
    return AuditLine(event.action, template.format_map(parts), event.created_at)


class _Parts(dict):
    """The placeholders of a sentence, computed when a template asks for them."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, name: str) -> str:
        event, data = self.event, self.event.data
        if name == "decision":
            return next((word for rule in DECISIONS if (word := rule(data))), "Completed")
        if name == "by":
            actor = actor_name(event.actor)
            return f" by {actor}" if actor and event.actor not in (event.via, "callback") else ""
        if name == "comment":
            comment = data.get("comment") if isinstance(data, dict) else None
            return f" — {_quoted(comment)}" if isinstance(comment, str) and comment.strip() else ""
        if name == "error":
            error = data.get("message") if isinstance(data, dict) else None
            return f" — {_quoted(error)}" if isinstance(error, str) and error.strip() else ""
        if name == "how":
            via = VIA_NAMES.get(event.via, event.via)
            return f" ({via})" if via else ""
        if name == "to":
            return _moment_or_text(data.get("to", "")) if isinstance(data, dict) else ""
        if name == "vote":  # a vote's data: {"reviewer", "choice", "comment", "at", "via"}
            choice = data.get("choice") if isinstance(data, dict) else None
            named = {"approved": "Approved", "rejected": "Rejected"}
            return (
                named.get(choice)
                if isinstance(choice, str) and choice in named
                else (f"Chose {_quoted(choice)}")
            )
        if name == "people":
            people = data.get("to") if isinstance(data, dict) else None
            return ", ".join(map(str, people)) if people else "nobody (all have voted)"
        if name == "number":
            return str(data.get("number", "")) if isinstance(data, dict) else ""
        if name == "sender":
            actor = actor_name(event.actor)
            return f" ({actor})" if actor else ""
        return ""


def actor_name(actor: str) -> str:
    """Who acted, as people read it. Events written before API keys were recorded by name hold
    the key's prefix, part of its secret: never shown."""
    if actor.startswith("wp_"):
        return "an API key"
    return ACTOR_NAMES.get(actor, actor)


def _moment_or_text(value: Any) -> str:
    """An ISO date-time (an extension's new deadline) as "2026-12-01 20:34 UTC"; else as is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _quoted(value: Any) -> str:
    text = " ".join(str(value).split())
    if len(text) > MAX_QUOTED:
        text = text[: MAX_QUOTED - 1] + "…"
    return f"'{text}'"
