"""Every state change of a waitpoint, each in one transaction (DESIGN §2).

Views, the SDK, the dashboard, admin and Celery tasks call these; none of them writes models.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from waitpoints.durations import InvalidDuration, parse_duration, resolve_timeout
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    ApiKey,
    AuditEvent,
    CompletionVia,
    Environment,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
    WaitpointTag,
    idempotency_key_hash,
)
from waitpoints.validation import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_TITLE_LENGTH,
    clean_json,
    clean_tags,
    clean_text,
)

DEFAULT_IDEMPOTENCY_KEY_TTL = "1h"


# --- Environments and API keys ---------------------------------------------------------------


def environment_get_or_create(*, slug: str, name: str | None = None) -> Environment:
    environment, _ = Environment.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return environment


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once; only its hash is stored


def api_key_create(*, environment: Environment, name: str = "") -> IssuedApiKey:
    secret = f"wp_{environment.slug}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        environment=environment,
        name=name,
        prefix=secret[: len(f"wp_{environment.slug}_") + 6],
        secret_hash=hash_secret(secret),
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, so authentication is not a write per request."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# --- Callback hashes ---------------------------------------------------------------------------


def callback_hash(waitpoint: Waitpoint) -> str:
    secret = waitpoint.environment.signing_secret.encode()
    return hmac.new(secret, f"callback:{waitpoint.id}".encode(), hashlib.sha256).hexdigest()


def callback_hash_matches(waitpoint: Waitpoint, candidate: str) -> bool:
    return hmac.compare_digest(callback_hash(waitpoint), candidate)


def callback_url(waitpoint: Waitpoint) -> str:
    return (
        f"{settings.WAITPOINTS_PUBLIC_URL}/api/v1/waitpoints/tokens/"
        f"{waitpoint.id}/callback/{callback_hash(waitpoint)}"
    )


# --- Create ------------------------------------------------------------------------------------


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
    now: datetime | None = None,
) -> CreatedToken:
    """Create a MANUAL waitpoint, or return the live one holding `idempotency_key`."""
    now = now or timezone.now()
    fields = _clean_create_fields(
        timeout=timeout,
        idempotency_key=idempotency_key,
        idempotency_key_ttl=idempotency_key_ttl,
        tags=tags,
        title=title,
        context=context,
        now=now,
    )
    if fields["idempotency_key"] is None:
        return CreatedToken(_insert_token(environment, fields, now), is_cached=False)

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
                return CreatedToken(_insert_token(environment, fields, now), is_cached=False)
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
    now: datetime,
) -> dict[str, Any]:
    details: dict[str, str] = {}
    fields: dict[str, Any] = {"idempotency_key": None, "idempotency_key_expires_at": None}

    def check(field: str, clean):  # collects every bad field, not just the first
        try:
            return clean()
        except InvalidInput as exc:
            details.update(exc.details)
        except InvalidDuration as exc:
            details[field] = str(exc)

    fields["timeout_at"] = check(
        "timeout",
        lambda: resolve_timeout(
            timeout if timeout is not None else settings.WAITPOINTS_DEFAULT_TIMEOUT, now=now
        ),
    )
    if idempotency_key is not None:
        fields["idempotency_key"] = check(
            "idempotencyKey",
            lambda: clean_text(
                idempotency_key, field="idempotencyKey", max_length=MAX_IDEMPOTENCY_KEY_LENGTH
            ),
        )
        ttl = check(
            "idempotencyKeyTTL",
            lambda: parse_duration(idempotency_key_ttl or DEFAULT_IDEMPOTENCY_KEY_TTL),
        )
        if ttl is not None:
            fields["idempotency_key_expires_at"] = now + ttl
    elif idempotency_key_ttl is not None:
        check("idempotencyKeyTTL", lambda: parse_duration(idempotency_key_ttl))
    fields["tags"] = check("tags", lambda: clean_tags(tags)) or []
    fields["title"] = check(
        "title",
        lambda: clean_text(
            title or "", field="title", max_length=MAX_TITLE_LENGTH, allow_empty=True
        ),
    )
    fields["context"] = check("context", lambda: clean_json(context, field="context"))
    if details:
        raise InvalidInput(details)
    return fields


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
        created_at=now,
    )
    if connection.vendor == "postgresql":
        _insert_token_in_one_statement(waitpoint, tags)
    else:
        with transaction.atomic():
            waitpoint.save(force_insert=True)
            WaitpointTag.objects.bulk_create(
                WaitpointTag(waitpoint=waitpoint, environment=environment, name=name, position=i)
                for i, name in enumerate(tags)
            )
    waitpoint._state.adding = False
    # Callers render tags right away: fill the prefetch cache instead of querying again.
    waitpoint._prefetched_objects_cache = {
        "tags": [
            WaitpointTag(waitpoint=waitpoint, name=name, position=i) for i, name in enumerate(tags)
        ]
    }
    return waitpoint


def _insert_token_in_one_statement(waitpoint: Waitpoint, tags: list[str]) -> None:
    """The token row and its tag rows in one INSERT statement: atomic without BEGIN/COMMIT.

    Creating is the API's hottest write; the ORM's two INSERTs in a transaction cost four
    round trips and most of the request's CPU, keeping create below half the throughput of a
    bare one-INSERT endpoint (docs/benchmarks.md, P1). Columns come from the model, so a new
    field needs no change here.
    """
    params = [
        field.get_db_prep_save(getattr(waitpoint, field.attname), connection)
        for field in Waitpoint._meta.concrete_fields
    ]
    if tags:
        params += [waitpoint.environment_id, tags]
    with connection.cursor() as cursor:
        cursor.execute(_insert_token_sql(with_tags=bool(tags)), params)


@functools.cache
def _insert_token_sql(*, with_tags: bool) -> str:
    fields = Waitpoint._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {Waitpoint._meta.db_table} ({columns}) VALUES ({placeholders})"
    if not with_tags:
        return sql
    return (
        f"WITH waitpoint AS ({sql} RETURNING id) "
        f"INSERT INTO {WaitpointTag._meta.db_table} (waitpoint_id, environment_id, name, position) "
        "SELECT waitpoint.id, %s, tag.name, tag.position - 1 "
        "FROM waitpoint, unnest(%s::text[]) WITH ORDINALITY AS tag(name, position)"
    )


def sleep_create(*, environment: Environment, until: datetime) -> Waitpoint:
    """A DATETIME waitpoint (a run's durable sleep): the sweeper completes it when due."""
    return Waitpoint.objects.create(
        environment=environment, kind=WaitpointKind.DATETIME, timeout_at=until
    )


# --- Complete and time out ---------------------------------------------------------------------


class Completion:
    """The outcome of a completion attempt. `won` is False when the waitpoint was already
    finished (completed or timed out) by someone else. The waitpoint is loaded on first use
    when the completing statement did not need it (the API never asks for it)."""

    def __init__(self, waitpoint: Waitpoint | None, *, won: bool, waitpoint_id: str = "") -> None:
        self._waitpoint = waitpoint
        self.waitpoint_id = waitpoint.id if waitpoint is not None else waitpoint_id
        self.won = won

    @property
    def waitpoint(self) -> Waitpoint:
        if self._waitpoint is None:
            self._waitpoint = (
                Waitpoint.objects.select_related("environment")
                .prefetch_related("tags")
                .get(id=self.waitpoint_id)
            )
        return self._waitpoint


def token_complete(
    *,
    environment: Environment,
    token_id: str,
    data: Any,
    via: CompletionVia | str,
    actor: str,
) -> Completion:
    """Complete a WAITING token; a finished one is left as it is (no-op, `won=False`).

    The row lock makes one completer win; a token past its deadline is timed out instead,
    so a late completion can never beat the timeout.
    """
    data = clean_json(data, field="data")
    with transaction.atomic():
        now = timezone.now()
        if connection.vendor == "postgresql" and _complete_if_waiting_in_one_statement(
            environment=environment, token_id=token_id, data=data, via=via, actor=actor, now=now
        ):
            _wake_runs_blocked_on([token_id])
            return Completion(None, won=True, waitpoint_id=token_id)
        # Not completed above (unknown, finished or overdue), or not PostgreSQL: decide under lock.
        waitpoint = _lock_token(environment, token_id)
        if waitpoint.status != WaitpointStatus.WAITING:
            return Completion(waitpoint, won=False)
        if waitpoint.timeout_at <= now:
            _finish_due([waitpoint.id], now=now)
            waitpoint.refresh_from_db()
            return Completion(waitpoint, won=False)
        waitpoint.status = WaitpointStatus.COMPLETED
        waitpoint.output = data
        waitpoint.output_is_error = False
        waitpoint.completed_at = now
        waitpoint.completed_via = via
        waitpoint.completed_by = actor
        waitpoint.save(
            update_fields=[
                "status",
                "output",
                "output_is_error",
                "completed_at",
                "completed_via",
                "completed_by",
            ]
        )
        AuditEvent.objects.create(
            waitpoint=waitpoint,
            action=AuditEvent.Action.COMPLETED,
            via=via,
            actor=actor,
            data=data,
            created_at=now,
        )
        _wake_runs_blocked_on([waitpoint.id])
    return Completion(waitpoint, won=True)


# The conditional UPDATE is the lock and the check at once: PostgreSQL re-evaluates the WHERE
# clause on the latest row version after waiting for a concurrent writer, so exactly one
# completer (or the sweeper) matches. Same effect as the locked path below it, in one round
# trip instead of four; completion is on the path of every resumed run (docs/benchmarks.md, P2).
_COMPLETE_IF_WAITING_SQL = """
WITH completed AS (
    UPDATE waitpoints_waitpoint
    SET status = 'COMPLETED', output = %(output)s, output_is_error = false,
        completed_at = %(now)s, completed_via = %(via)s, completed_by = %(actor)s
    WHERE id = %(id)s AND environment_id = %(environment_id)s AND kind = 'MANUAL'
      AND status = 'WAITING' AND timeout_at > %(now)s
    RETURNING id
), audited AS (
    INSERT INTO waitpoints_auditevent (waitpoint_id, action, via, actor, data, created_at)
    SELECT id, 'completed', %(via)s, %(actor)s, %(output)s, %(now)s FROM completed
)
SELECT count(*) FROM completed
"""


def _complete_if_waiting_in_one_statement(
    *, environment: Environment, token_id: str, data: Any, via: str, actor: str, now: datetime
) -> bool:
    output = Waitpoint._meta.get_field("output").get_db_prep_save(data, connection)
    params = {
        "id": token_id,
        "environment_id": environment.pk,
        "output": output,
        "now": now,
        "via": str(via),
        "actor": actor,
    }
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETE_IF_WAITING_SQL, params)
        return cursor.fetchone()[0] == 1


def token_force_timeout(*, environment: Environment, token_id: str, actor: str) -> Completion:
    """A reviewer's "Force timeout": the token times out now, as if its deadline had passed."""
    with transaction.atomic():
        waitpoint = _lock_token(environment, token_id)
        if waitpoint.status != WaitpointStatus.WAITING:
            return Completion(waitpoint, won=False)
        now = timezone.now()
        already_due = waitpoint.timeout_at <= now
        if not already_due:
            Waitpoint.objects.filter(pk=waitpoint.pk).update(timeout_at=now)
        _finish_due([waitpoint.id], now=now)
        if not already_due:
            AuditEvent.objects.create(
                waitpoint=waitpoint,
                action=AuditEvent.Action.FORCED_TIMEOUT,
                via=CompletionVia.DASHBOARD,
                actor=actor,
                created_at=now,
            )
        waitpoint.refresh_from_db()
    return Completion(waitpoint, won=not already_due)


def token_send_approval_emails(
    *,
    waitpoint: Waitpoint,
    to: list[str] | str,
    subject: str | None = None,
    message: str = "",
    sent_by: str = "",
    fail_silently: bool = False,
) -> list[str]:
    """Email Approve/Reject links for a WAITING token (one email per recipient, audited).

    The signed links, templates and confirm pages live in `dashboard.emails` / the dashboard.
    """
    from dashboard.emails import approval_emails_send

    return approval_emails_send(
        waitpoint=waitpoint,
        to=to,
        subject=subject,
        message=message,
        sent_by=sent_by,
        fail_silently=fail_silently,
    )


def waitpoints_sweep_due(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Finish every WAITING waitpoint past its deadline; returns how many.

    Tokens time out, durable sleeps complete. Each batch is claimed with SKIP LOCKED, so
    several sweepers (and completers holding a row) never block each other.
    """
    batch_size = batch_size or settings.WAITPOINTS_SWEEP_BATCH_SIZE
    finished = 0
    while True:
        now_for_batch = now or timezone.now()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                due_ids = _finish_due_batch_in_one_statement(now=now_for_batch, limit=batch_size)
                _wake_runs_blocked_on(due_ids)
            else:
                due_ids = list(
                    Waitpoint.objects.select_for_update(skip_locked=True)
                    .filter(status=WaitpointStatus.WAITING, timeout_at__lte=now_for_batch)
                    .order_by("timeout_at")
                    .values_list("id", flat=True)[:batch_size]
                )
                if due_ids:
                    _finish_due(due_ids, now=now_for_batch)
        finished += len(due_ids)
        if len(due_ids) < batch_size:
            return finished


# The same changes as `_finish_due`, as one statement: claiming, finishing and auditing a batch
# through the ORM took several round trips and a Python object per audit row, and a mass expiry
# of 100,000 tokens took 13 s instead of the 10 s goal (docs/benchmarks.md, P4). The claimed ids
# are handed over as an array, so the UPDATE finds them through the primary key; joining a CTE of
# them instead got a hash join over the whole table, once per batch.
_FINISH_DUE_BATCH_SQL = """
WITH finished AS (
    UPDATE waitpoints_waitpoint AS waitpoint
    SET status = CASE WHEN waitpoint.kind = 'MANUAL' THEN 'TIMED_OUT' ELSE 'COMPLETED' END,
        output = NULL,
        output_is_error = (waitpoint.kind = 'MANUAL'),
        completed_at = CASE WHEN waitpoint.kind = 'MANUAL' THEN waitpoint.timeout_at ELSE %(now)s END,
        completed_via = 'timeout',
        completed_by = ''
    WHERE waitpoint.id = ANY(ARRAY(
        SELECT id FROM waitpoints_waitpoint
        WHERE status = 'WAITING' AND timeout_at <= %(now)s
        ORDER BY timeout_at LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING waitpoint.id, waitpoint.kind
), audited AS (
    INSERT INTO waitpoints_auditevent (waitpoint_id, action, via, actor, created_at)
    SELECT id, 'timed_out', 'timeout', '', %(now)s FROM finished WHERE kind = 'MANUAL'
)
SELECT id FROM finished
"""


def _finish_due_batch_in_one_statement(*, now: datetime, limit: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(_FINISH_DUE_BATCH_SQL, {"now": now, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


def _lock_token(environment: Environment, token_id: str) -> Waitpoint:
    waitpoint = (
        Waitpoint.objects.select_for_update()
        .filter(environment=environment, id=token_id, kind=WaitpointKind.MANUAL)
        .first()
    )
    if waitpoint is None:
        raise NotFound(f"Waitpoint token {token_id!r} not found")
    return waitpoint


def _finish_due(waitpoint_ids: list[str], *, now: datetime) -> None:
    """Mark locked, due waitpoints finished and wake their runs (caller holds the locks)."""
    due = Waitpoint.objects.filter(id__in=waitpoint_ids, status=WaitpointStatus.WAITING)
    token_ids = list(due.filter(kind=WaitpointKind.MANUAL).values_list("id", flat=True))
    # The timeout error itself is derived from timeout_at (Waitpoint.result_output), and so is
    # completed_at: readers saw the token finish at its deadline, however late the sweeper is.
    Waitpoint.objects.filter(id__in=token_ids).update(
        status=WaitpointStatus.TIMED_OUT,
        output=None,
        output_is_error=True,
        completed_at=F("timeout_at"),
        completed_via=CompletionVia.TIMEOUT,
        completed_by="",
    )
    due.filter(kind=WaitpointKind.DATETIME).update(
        status=WaitpointStatus.COMPLETED, completed_at=now, completed_via=CompletionVia.TIMEOUT
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            waitpoint_id=token_id,
            action=AuditEvent.Action.TIMED_OUT,
            via=CompletionVia.TIMEOUT,
            created_at=now,
        )
        for token_id in token_ids
    )
    _wake_runs_blocked_on(waitpoint_ids)


def _wake_runs_blocked_on(waitpoint_ids: list[str]) -> None:
    from waitpoints.runs.services import runs_wake_blocked_on

    runs_wake_blocked_on(waitpoint_ids=waitpoint_ids)
