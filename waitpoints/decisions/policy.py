"""Who decides a token and how many must agree: its stored `policy` (docs/architecture.md,
"Who decides").

Stored form (the `policy` column, NULL when none of these was given), keys present only when
given: `{"reviewers": {"users": [...], "groups": [...]}, "requestedBy": str, "approvals": N,
"remind": {"every": seconds, "max": n}, "escalate": {"after": seconds, "to": [...]},
"notify": [emails]}`. Whether the names exist is the token services' check (they know users).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from waitpoints.core.durations import parse_duration
from waitpoints.core.validation import clean_text
from waitpoints.errors import InvalidInput

MAX_APPROVALS = 20
MAX_NAMES = 50
MAX_NAME_LENGTH = 320
MAX_REMINDERS = 100
DEFAULT_MAX_REMINDERS = 10
MIN_REMIND_EVERY_SECONDS = 60


@dataclass(frozen=True)
class Policy:
    """A token's rules for deciding; the default (no policy): anyone permitted, one decides."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    requested_by: str = ""
    required: int = 1
    remind_every: int = 0  # seconds; 0: no reminders
    remind_max: int = 0
    escalate_after: int = 0  # seconds; 0: no escalation
    escalate_to: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()

    @property
    def assigned(self) -> bool:
        return bool(self.users or self.groups)

    @property
    def assignees(self) -> list[str]:
        return [*self.users, *self.groups]


def policy_of(stored: dict[str, Any] | None) -> Policy:
    if not stored:
        return Policy()
    reviewers = stored.get("reviewers") or {}
    remind = stored.get("remind") or {}
    escalate = stored.get("escalate") or {}
    return Policy(
        users=tuple(reviewers.get("users", ())),
        groups=tuple(reviewers.get("groups", ())),
        requested_by=stored.get("requestedBy", ""),
        required=stored.get("approvals", 1),
        remind_every=remind.get("every", 0),
        remind_max=remind.get("max", 0),
        escalate_after=escalate.get("after", 0),
        escalate_to=tuple(escalate.get("to", ())),
        notify=tuple(stored.get("notify", ())),
    )


def clean_policy(
    *,
    reviewers: Any = None,
    requested_by: Any = None,
    approvals: Any = None,
    remind: Any = None,
    escalate: Any = None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The stored policy of a create's fields and the details of each bad one (empty: valid)."""
    stored: dict[str, Any] = {}
    details: dict[str, str] = {}
    parts = (
        ("reviewers", reviewers, _clean_reviewers),
        ("requestedBy", requested_by, _clean_name),
        ("approvals", approvals, _clean_approvals),
        ("remind", remind, _clean_remind),
        ("escalate", escalate, _clean_escalate),
    )
    for field, value, clean in parts:
        if value is None:
            continue
        try:
            stored[field] = clean(value, field)
        except InvalidInput as exc:
            details.update(exc.details)
    return (stored or None), details


def _clean_name(value: Any, field: str) -> str:
    text = clean_text(value, field=field, max_length=MAX_NAME_LENGTH).strip()
    if not text:
        raise InvalidInput({field: "must not be blank"})
    return text


def _clean_names(value: Any, field: str, *, allow_empty: bool = True) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NAMES or (not value and not allow_empty):
        raise InvalidInput({field: f"must be a list of up to {MAX_NAMES} names"})
    names: list[str] = []
    for index, item in enumerate(value):
        name = _clean_name(item, f"{field}[{index}]")
        if name not in names:
            names.append(name)
    return names


def _clean_reviewers(value: Any, field: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise InvalidInput({field: 'must be an object like {"users": [...], "groups": [...]}'})
    unknown = sorted(set(value) - {"users", "groups"})
    if unknown:
        raise InvalidInput({f"{field}.{unknown[0]}": "is not a known field"})
    cleaned = {
        key: _clean_names(value[key], f"{field}.{key}")
        for key in ("users", "groups")
        if key in value
    }
    if not any(cleaned.values()):
        raise InvalidInput({field: "must name at least one user or group"})
    return cleaned


def _clean_approvals(value: Any, field: str) -> int:
    required = value.get("required", 1) if isinstance(value, dict) else None
    if not isinstance(value, dict) or set(value) - {"required"}:
        raise InvalidInput({field: 'must be an object like {"required": 2}'})
    if isinstance(required, bool) or not isinstance(required, int):
        raise InvalidInput({f"{field}.required": f"must be a whole number 1-{MAX_APPROVALS}"})
    if not 1 <= required <= MAX_APPROVALS:
        raise InvalidInput({f"{field}.required": f"must be a whole number 1-{MAX_APPROVALS}"})
    return required


def _clean_remind(value: Any, field: str) -> dict[str, int]:
    if not isinstance(value, dict) or "every" not in value or set(value) - {"every", "max"}:
        raise InvalidInput({field: 'must be an object like {"every": "4h", "max": 10}'})
    every = int(parse_duration(value["every"], field=f"{field}.every").total_seconds())
    if every < MIN_REMIND_EVERY_SECONDS:
        raise InvalidInput({f"{field}.every": "must be at least 1m"})
    most = value.get("max", DEFAULT_MAX_REMINDERS)
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= MAX_REMINDERS:
        raise InvalidInput({f"{field}.max": f"must be a whole number 1-{MAX_REMINDERS}"})
    return {"every": every, "max": most}


def _clean_escalate(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"after", "to"}:
        raise InvalidInput({field: 'must be an object like {"after": "24h", "to": [...]}'})
    after = int(parse_duration(value["after"], field=f"{field}.after").total_seconds())
    return {"after": after, "to": _clean_names(value["to"], f"{field}.to", allow_empty=False)}


def declared_reviewers(stored: dict[str, Any] | None) -> dict[str, list[str]] | None:
    """The `reviewers` as the API shows them (escalation may have added some)."""
    return (stored or {}).get("reviewers")
