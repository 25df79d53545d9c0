"""Creating tokens (with idempotency keys) and durable sleeps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from waitpoints.conf import waitpoints_settings
from waitpoints.core import database
from waitpoints.core.durations import parse_duration, resolve_timeout
from waitpoints.core.ids import idempotency_key_hash
from waitpoints.core.validation import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_TITLE_LENGTH,
    clean_json,
    clean_tags,
    clean_text,
)
from waitpoints.decisions.contract import NOT_GIVEN, clean_response, clean_timeout_output
from waitpoints.decisions.policy import clean_policy, policy_of
from waitpoints.display.hints import clean_display
from waitpoints.errors import InvalidInput
from waitpoints.models import (
    Environment,
    Waitpoint,
    WaitpointAssignee,
    WaitpointKind,
    WaitpointTag,
    assignee_keys,
)
from waitpoints.notifications.delivery import queue_approval_emails
from waitpoints.notifications.emails import ApprovalRequest, clean_approval_request
from waitpoints.ops import metrics
from waitpoints.tokens import assignment, sql
from waitpoints.tokens.services.limits import check_waiting_cap

DEFAULT_IDEMPOTENCY_KEY_TTL = "1h"


@dataclass(frozen=True)
class CreatedToken:
    waitpoint: Waitpoint
    is_cached: bool


def token_create(
    *,
    environment: Environment,
    timeout: str | datetime | None = None,
    idempotency_key: str | None = None,
    idempotency_key_ttl: str | None = None,
    tags: str | list[str] | None = None,
    title: str = "",
    context: Any = None,
    display: dict[str, str] | None = None,
    notify: list[str] | str | None = None,
    notify_sent_by: str = "",
    charge_notify: Callable[[int], None] | None = None,
    response: Any = None,
    timeout_output: Any = NOT_GIVEN,
    reviewers: Any = None,
    requested_by: Any = None,
    approvals: Any = None,
    remind: Any = None,
    escalate: Any = None,
    now: datetime | None = None,
) -> CreatedToken:
    """Create a MANUAL waitpoint, or return the live one holding `idempotency_key`.

    `response`: what a person may answer (options, a form), checked by `waitpoints.decisions`;
    `timeout_output`: the output the deadline completes the token with (docs/architecture.md,
    "Decisions").

    `display`: how to show the context's keys ({"amount": "money:EUR"}, `display.hints`).
    `notify`: addresses that each get an approval email with their own links, validated with
    the other fields and sent by a Celery task after commit (an idempotent replay sends none).
    `charge_notify(count)` counts those emails against a quota once the create is valid and
    about to insert a new token (never for a refused create or an idempotent replay); it
    refuses by raising, and then nothing is created.

    `reviewers`, `requested_by`, `approvals`, `remind`, `escalate`: who may decide, how many
    must agree, reminders and escalation (docs/architecture.md, "Who decides"); each `notify`
    address must be one who may decide.
    """
    now = now or timezone.now()
    fields = _clean_create_fields(
        timeout=timeout,
        idempotency_key=idempotency_key,
        idempotency_key_ttl=idempotency_key_ttl,
        tags=tags,
        title=title,
        context=context,
        display=display,
        notify=notify,
        response=response,
        timeout_output=timeout_output,
        policy={
            "reviewers": reviewers,
            "requested_by": requested_by,
            "approvals": approvals,
            "remind": remind,
            "escalate": escalate,
        },
        now=now,
    )
    check_waiting_cap(environment)

    def insert() -> Waitpoint:
        if charge_notify is not None and fields["notify"]:
            charge_notify(len(fields["notify"].recipients))
        return _insert_token(environment, fields, now)

    if fields["idempotency_key"] is None:
        created = CreatedToken(insert(), is_cached=False)
    else:
        created = _create_with_key(environment, fields, now, insert)
    if fields["notify"] is not None and not created.is_cached:
        queue_approval_emails(created.waitpoint.id, fields["notify"], sent_by=notify_sent_by)
    return created


def _create_with_key(
    environment: Environment, fields: dict[str, Any], now: datetime, insert: Callable[[], Waitpoint]
) -> CreatedToken:
    with transaction.atomic():
        key = fields["idempotency_key"]
        # A key whose TTL has passed is released, so this create gets a new token.
        Waitpoint.objects.filter(
            environment=environment,
            idempotency_key_hash=idempotency_key_hash(key),
            idempotency_key_active=True,
            idempotency_key_expires_at__lte=now,
        ).update(idempotency_key_active=False)
        existing = _live_token_with_key(environment, key)
        if existing is not None:
            return CreatedToken(existing, is_cached=True)
        try:
            with transaction.atomic():
                return CreatedToken(insert(), is_cached=False)
        except IntegrityError:
            # A concurrent create with the same key committed first: its token is the answer.
            existing = _live_token_with_key(environment, key)
            if existing is None:
                raise
            return CreatedToken(existing, is_cached=True)


def _live_token_with_key(environment: Environment, key: str) -> Waitpoint | None:
    return (
        Waitpoint.objects.filter(
            environment=environment,
            idempotency_key_hash=idempotency_key_hash(key),
            idempotency_key_active=True,
        )
        .select_related("environment")
        .prefetch_related("tags")
        .first()
    )


def _clean_create_fields(
    *,
    timeout: str | datetime | None,
    idempotency_key: str | None,
    idempotency_key_ttl: str | None,
    tags: Any,
    title: str,
    context: Any,
    display: Any,
    notify: Any,
    response: Any,
    timeout_output: Any,
    policy: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    details: dict[str, str] = {}
    fields: dict[str, Any] = {"idempotency_key": None, "idempotency_key_expires_at": None}

    def check(clean):  # collects every bad field, not just the first
        try:
            return clean()
        except InvalidInput as exc:
            details.update(exc.details)

    fields["timeout_at"] = check(
        lambda: resolve_timeout(
            timeout if timeout is not None else waitpoints_settings.default_timeout,
            now=now,
            field="timeout",
        )
    )
    if idempotency_key is not None:
        fields["idempotency_key"] = check(
            lambda: clean_text(
                idempotency_key, field="idempotencyKey", max_length=MAX_IDEMPOTENCY_KEY_LENGTH
            )
        )
        ttl = check(
            lambda: parse_duration(
                idempotency_key_ttl or DEFAULT_IDEMPOTENCY_KEY_TTL, field="idempotencyKeyTTL"
            )
        )
        if ttl is not None:
            fields["idempotency_key_expires_at"] = now + ttl
    elif idempotency_key_ttl is not None:
        check(lambda: parse_duration(idempotency_key_ttl, field="idempotencyKeyTTL"))
    fields["tags"] = check(lambda: clean_tags(tags)) or []
    fields["title"] = check(
        lambda: clean_text(
            title or "", field="title", max_length=MAX_TITLE_LENGTH, allow_empty=True
        )
    )
    fields["context"] = check(lambda: clean_json(context, field="context"))
    fields["display"] = check(lambda: clean_display(display, field="display"))
    # The emails' default subject is built from the title at send time and always fits.
    fields["notify"] = (
        check(lambda: clean_approval_request(to=notify, field="notify"))
        if notify is not None
        else None
    )
    fields["response"] = check(lambda: clean_response(clean_json(response, field="response")))
    if "response" not in details:
        fields["timeout_output"] = check(
            lambda: clean_timeout_output(
                clean_json(timeout_output, field="timeoutOutput")
                if timeout_output is not NOT_GIVEN
                else NOT_GIVEN,
                response=fields["response"],
            )
        )
    fields.update(_clean_policy_fields(policy, notify=fields["notify"], now=now, details=details))
    if details:
        raise InvalidInput(details)
    return fields


def _clean_policy_fields(
    given: dict[str, Any], *, notify: ApprovalRequest | None, now: datetime, details: dict[str, str]
) -> dict[str, Any]:
    """The `policy` column and the first reminder and escalation times; adds to `details`."""
    stored, policy_details = clean_policy(**given)
    details.update(policy_details)
    assignment.check_names_exist(stored, details=details)
    if stored is None or policy_details:
        return {"policy": stored, "remind_at": None, "escalate_at": None}
    policy = policy_of(stored)
    details.update(
        assignment.refused_addresses(policy, notify.recipients if notify else (), field="notify")
    )
    if notify and "remind" in stored:
        stored["notify"] = list(notify.recipients)  # the reminders go to them again
    return {
        "policy": stored,
        "remind_at": now + timedelta(seconds=policy.remind_every) if policy.remind_every else None,
        "escalate_at": (
            now + timedelta(seconds=policy.escalate_after) if policy.escalate_after else None
        ),
    }


def _insert_token(environment: Environment, fields: dict[str, Any], now: datetime) -> Waitpoint:
    tags, key = fields["tags"], fields["idempotency_key"]
    waitpoint = Waitpoint(
        environment=environment,
        kind=WaitpointKind.MANUAL,
        timeout_at=fields["timeout_at"],
        idempotency_key=key,
        idempotency_key_hash=idempotency_key_hash(key) if key is not None else None,
        idempotency_key_expires_at=fields["idempotency_key_expires_at"],
        title=fields["title"] or "",
        context=fields["context"],
        response=fields["response"],
        timeout_output=fields["timeout_output"],
        display=fields["display"],
        policy=fields["policy"],
        remind_at=fields["remind_at"],
        escalate_at=fields["escalate_at"],
        created_at=now,
    )
    assigned = fields["policy"] and fields["policy"].get("reviewers")
    if assigned:
        with transaction.atomic():  # the token and its assignees, or neither
            if database.postgresql():
                sql.insert_token(waitpoint, tags)
            else:
                waitpoint.save(force_insert=True)
                _insert_tags(waitpoint, tags)
            WaitpointAssignee.objects.bulk_create(
                WaitpointAssignee(waitpoint=waitpoint, key=key)
                for key in assignee_keys(assigned.get("users", ()), assigned.get("groups", ()))
            )
    elif database.postgresql():
        sql.insert_token(waitpoint, tags)
    else:
        with transaction.atomic():
            waitpoint.save(force_insert=True)
            _insert_tags(waitpoint, tags)
    waitpoint.mark_inserted(tag_names=tags)
    metrics.count_created(environment)
    return waitpoint


def _insert_tags(waitpoint: Waitpoint, tags: list[str]) -> None:
    WaitpointTag.objects.bulk_create(
        WaitpointTag(
            waitpoint=waitpoint, environment_id=waitpoint.environment_id, name=name, position=i
        )
        for i, name in enumerate(tags)
    )


def sleep_create(*, environment: Environment, until: datetime) -> Waitpoint:
    """A DATETIME waitpoint (a run's durable sleep): the sweeper completes it when due."""
    return Waitpoint.objects.create(
        environment=environment, kind=WaitpointKind.DATETIME, timeout_at=until
    )
