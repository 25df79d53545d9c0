"""Reads that filter and paginate waitpoint tokens, shared by the API, the SDK and the dashboard."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast, Substr
from django.db.models.lookups import Exact, IContains
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from waitpoints.core import database
from waitpoints.core.ids import WAITPOINT_ID_PREFIX, idempotency_key_hash, is_plausible_id
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import (
    Environment,
    Waitpoint,
    WaitpointAssignee,
    WaitpointKind,
    WaitpointStatus,
    WaitpointTag,
    WaitpointVote,
)
from waitpoints.tokens import sql

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass
class TokenFilters:
    statuses: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    any_tags: list[str] = field(default_factory=list)  # the API's semantics
    all_tags: list[str] = field(default_factory=list)  # the dashboard's
    created_from: datetime | None = None
    created_to: datetime | None = None
    id_prefix: str | None = None  # "waitpoint_" may be left out
    # Words of the title or context, or an id's start (the dashboard's search box).
    search: str | None = None
    # "Assigned to me": tokens whose reviewers name one of these `WaitpointAssignee` keys and
    # that `voter` has not voted on yet (README, "Who decides").
    assigned_keys: list[str] | None = None
    voter: str = ""


def token_get(*, environment: Environment | None, token_id: str) -> Waitpoint:
    """One MANUAL waitpoint; `environment=None` only for the callback URL (the hash decides)."""
    if not is_plausible_id(token_id):
        raise NotFound("Waitpoint token not found")
    tokens = Waitpoint.objects.filter(id=token_id, kind=WaitpointKind.MANUAL)
    if environment is not None:
        tokens = tokens.filter(environment=environment)
    waitpoint = tokens.select_related("environment").prefetch_related("tags").first()
    if waitpoint is None:
        raise NotFound(f"Waitpoint token {token_id!r} not found")
    return waitpoint


def status_q(statuses: Iterable[str], *, now: datetime) -> Q:
    """Effective status: a WAITING row past its deadline counts as TIMED_OUT."""
    overdue = Q(status=WaitpointStatus.WAITING, timeout_at__lte=now)
    by_status = {
        WaitpointStatus.WAITING: Q(status=WaitpointStatus.WAITING, timeout_at__gt=now),
        WaitpointStatus.COMPLETED: Q(status=WaitpointStatus.COMPLETED),
        WaitpointStatus.TIMED_OUT: Q(status=WaitpointStatus.TIMED_OUT) | overdue,
    }
    combined = Q(pk__in=[])
    for status in statuses:
        combined |= by_status[WaitpointStatus(status)]
    return combined


def token_list(
    *, environments: Iterable[Environment] | Environment, filters: TokenFilters
) -> QuerySet[Waitpoint]:
    if isinstance(environments, Environment):
        environments = [environments]
    return _filtered(environments, filters)[0]


def token_page(
    *,
    environments: Iterable[Environment],
    filters: TokenFilters,
    size: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    before: str | None = None,
) -> Page:
    """One page of `token_list` over several environments (the dashboard's inbox): when no
    selective filter narrows the list, each environment's rows are read from its own index
    (`first_rows`); a selective one (tags, a key, an id, a rare word) is faster as one query."""
    environments = list(environments)
    tokens, selective = _filtered(environments, filters)
    merged = () if selective else environments
    return paginate(tokens, size=size, after=after, before=before, environments=merged)


def _filtered(
    environments: list[Environment], filters: TokenFilters
) -> tuple[QuerySet[Waitpoint], bool]:
    """The filtered tokens, and whether a filter other than status and dates narrows them."""
    environment_ids = [environment.pk for environment in environments]
    selective = bool(
        filters.idempotency_key is not None
        or filters.any_tags
        or filters.all_tags
        or filters.id_prefix
    )
    # select_related: every item renders its callback URL from its environment's secret.
    tokens = Waitpoint.objects.filter(
        environment_id__in=environment_ids, kind=WaitpointKind.MANUAL
    ).select_related("environment")
    if filters.statuses:
        tokens = tokens.filter(status_q(filters.statuses, now=timezone.now()))
    if filters.idempotency_key is not None:
        tokens = tokens.filter(
            idempotency_key_hash=idempotency_key_hash(filters.idempotency_key),
            idempotency_key=filters.idempotency_key,
        )
    if filters.any_tags:
        tokens = tokens.filter(
            id__in=WaitpointTag.objects.filter(
                environment_id__in=environment_ids, name__in=filters.any_tags
            ).values("waitpoint_id")
        )
    for tag in filters.all_tags:
        tokens = tokens.filter(
            id__in=WaitpointTag.objects.filter(environment_id__in=environment_ids, name=tag).values(
                "waitpoint_id"
            )
        )
    if filters.created_from is not None:
        tokens = tokens.filter(created_at__gte=filters.created_from)
    if filters.created_to is not None:
        tokens = tokens.filter(created_at__lte=filters.created_to)
    if filters.id_prefix:
        tokens = tokens.filter(_id_prefix_q(filters.id_prefix))
    if filters.assigned_keys is not None:
        tokens = tokens.filter(
            id__in=WaitpointAssignee.objects.filter(key__in=filters.assigned_keys).values(
                "waitpoint_id"
            )
        ).exclude(
            id__in=WaitpointVote.objects.filter(reviewer=filters.voter).values("waitpoint_id")
        )
    if filters.search:
        condition, common = search_q(filters.search, environment_ids=environment_ids)
        tokens = tokens.filter(condition)
        selective = selective or not common
    return tokens.prefetch_related("tags"), selective


SEARCH_WORD = re.compile(r"\w+")
MAX_SEARCH_WORDS = 8


# At most this many matches of a search are listed by id (see `search_q`).
RARE_MATCHES = 1000


def search_q(text: str, *, environment_ids: list[int]) -> tuple[Q, bool]:
    """Tokens whose title or context has every word of `text` (whole words, any case), or whose
    id starts with `text`. Fast path: the full-text index (`sql.search_matches`); portable twin:
    a case-insensitive substring of the title or of the context's JSON text per word, which
    finds at least what the index finds.

    On PostgreSQL one query first asks the index for up to RARE_MATCHES + 1 matches. A rare
    word's matches are then listed by id; a common one stays a condition, which the newest-first
    index scans meet within a few rows. Left to itself, PostgreSQL overestimates a rare word (or
    one in no token) and walks every row of each environment in created_at order looking for
    matches: 2 s for a word in one token of 2,000, 9 s for one in none (docs/benchmarks.md).

    Returns the condition, and whether it is common (then not listed by id)."""
    text = text.strip()
    if text.startswith(WAITPOINT_ID_PREFIX):
        return _id_prefix_q(text), False
    words = SEARCH_WORD.findall(text)[:MAX_SEARCH_WORDS]
    if not words:
        return Q(pk__in=[]), False
    common = False
    if database.postgresql():
        matches = Q(sql.search_matches(words))
        found = list(
            Waitpoint.objects.filter(
                matches, environment_id__in=environment_ids, kind=WaitpointKind.MANUAL
            )
            .order_by()  # any matches: unordered, the scan stops at the limit
            .values_list("id", flat=True)[: RARE_MATCHES + 1]
        )
        common = len(found) > RARE_MATCHES
        if not common:
            matches = Q(id__in=found)
    else:
        context_text = Cast("context", TextField())
        matches = Q()
        for word in words:
            matches &= Q(title__icontains=word) | Q(IContains(context_text, word))
    if is_plausible_id(text) and len(text) >= MIN_ID_SEARCH_LENGTH:
        matches |= _id_prefix_q(text)
    return matches, common


# An id's start shorter than this matches thousands of ids by chance: it is searched as words.
MIN_ID_SEARCH_LENGTH = 6


def _id_prefix_q(text: str) -> Q:
    """A prefix, not a substring: LIKE 'waitpoint\\_abc%' uses the id's pattern index, where
    '%abc%' would read every token of the environment (as git does with short hashes)."""
    prefix = text if text.startswith(WAITPOINT_ID_PREFIX) else WAITPOINT_ID_PREFIX + text
    if database.postgresql():
        return Q(id__startswith=prefix)
    # SQLite's LIKE ignores ASCII case, and ids are case-sensitive: compare exactly.
    return Q(id__startswith=prefix) & Q(Exact(Substr("id", 1, len(prefix)), prefix))


# --- Keyset pagination --------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Waitpoint]
    next_cursor: str | None
    previous_cursor: str | None


def encode_cursor(waitpoint: Waitpoint) -> str:
    raw = json.dumps([waitpoint.created_at.isoformat(), waitpoint.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors are opaque but forgeable: only ids the API could have issued reach the database.
_CURSOR_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


# A cursor we issue is ~70 characters; anything much longer is forged.
_MAX_CURSOR_LENGTH = 512


def decode_cursor(cursor: str, *, field: str) -> tuple[datetime, str]:
    try:
        if len(cursor) > _MAX_CURSOR_LENGTH:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at_text, waitpoint_id = json.loads(raw)
        created_at = parse_datetime(created_at_text)
        if created_at is None or not isinstance(waitpoint_id, str):
            raise ValueError
        if not _CURSOR_ID.fullmatch(waitpoint_id) or timezone.is_naive(created_at):
            raise ValueError
        created_at = created_at.astimezone(UTC)
    except (
        ValueError,
        TypeError,
        OverflowError,
        RecursionError,  # deeply nested JSON in a forged cursor
        binascii.Error,
        UnicodeDecodeError,
    ):
        raise InvalidInput({field: "is not a cursor returned by this API"}) from None
    return created_at, waitpoint_id


def paginate(
    tokens: QuerySet[Waitpoint],
    *,
    size: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    before: str | None = None,
    environments: Iterable[Environment] = (),
) -> Page:
    """Newest first, by (created_at, id): stable under concurrent inserts, no OFFSET scans.

    `environments`: the ones `tokens` spans, when several (the dashboard's inbox), so that each
    one's rows are read in order from its own index (`first_rows`)."""
    environment_ids = [environment.pk for environment in environments]
    if after is not None:
        created_at, waitpoint_id = decode_cursor(after, field="page[after]")
        older = Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=waitpoint_id)
        rows = first_rows(tokens.filter(older), NEWEST_FIRST, size + 1, environment_ids)
        items = rows[:size]
        return Page(
            items=items,
            next_cursor=encode_cursor(items[-1]) if len(rows) > size else None,
            previous_cursor=encode_cursor(items[0]) if items else None,
        )
    if before is not None:
        created_at, waitpoint_id = decode_cursor(before, field="page[before]")
        newer = Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=waitpoint_id)
        rows = first_rows(tokens.filter(newer), OLDEST_FIRST, size + 1, environment_ids)
        items = list(reversed(rows[:size]))
        return Page(
            items=items,
            next_cursor=encode_cursor(items[-1]) if items else None,
            previous_cursor=encode_cursor(items[0]) if len(rows) > size else None,
        )
    rows = first_rows(tokens, NEWEST_FIRST, size + 1, environment_ids)
    items = rows[:size]
    return Page(
        items=items,
        next_cursor=encode_cursor(items[-1]) if len(rows) > size else None,
        previous_cursor=None,
    )


NEWEST_FIRST = ("-created_at", "-id")
OLDEST_FIRST = ("created_at", "id")


def first_rows(
    tokens: QuerySet[Waitpoint], order: tuple[str, str], limit: int, environment_ids: list[int]
) -> list[Waitpoint]:
    """The first `limit` tokens in `order`, in one statement.

    Over several environments PostgreSQL cannot read `environment_id IN (…)` from the
    (environment, …, created_at) indexes in created_at order: it read every match and sorted
    them (0.45 s for the default inbox at 1M tokens, docs/benchmarks.md "Inbox at 1M tokens"). So each
    environment's first `limit` ids come from its own index scan and the page is the first
    `limit` of their union (7 ms). Elsewhere, and for one environment, the plain query."""
    ordered = tokens.order_by(*order)
    if len(environment_ids) < 2 or not database.postgresql():
        return list(ordered[:limit])
    firsts = [ordered.filter(environment_id=pk).values("id")[:limit] for pk in environment_ids]
    return list(ordered.filter(id__in=firsts[0].union(*firsts[1:], all=True))[:limit])
