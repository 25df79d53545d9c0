"""Trigger.dev's list query (`filter[...]`, `page[...]`) -> TokenFilters and page arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone

from waitpoints.core.durations import parse_duration, parse_moment
from waitpoints.core.validation import MAX_IDEMPOTENCY_KEY_LENGTH, clean_tags, clean_text
from waitpoints.errors import InvalidInput
from waitpoints.models import WaitpointStatus
from waitpoints.tokens.selectors import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TokenFilters


@dataclass
class ListQuery:
    filters: TokenFilters
    size: int
    after: str | None
    before: str | None


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_list_query(params) -> ListQuery:
    details: dict[str, str] = {}
    filters = TokenFilters()

    if "filter[status]" in params:
        statuses = [item.upper() for item in _comma_list(params["filter[status]"])]
        unknown = [item for item in statuses if item not in WaitpointStatus.values]
        if unknown or not statuses:
            details["filter[status]"] = (
                f"unknown status {', '.join(unknown) or '(empty)'}; "
                f"use a comma list of {', '.join(WaitpointStatus.values)}"
            )
        filters.statuses = statuses
    if "filter[idempotencyKey]" in params:
        try:
            filters.idempotency_key = clean_text(
                params["filter[idempotencyKey]"],
                field="filter[idempotencyKey]",
                max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
            )
        except InvalidInput as exc:
            details.update(exc.details)
    if "filter[tags]" in params:
        try:
            filters.any_tags = clean_tags(_comma_list(params["filter[tags]"]), field="filter[tags]")
        except InvalidInput as exc:
            details.update(exc.details)
    now = timezone.now()
    if "filter[createdAt][period]" in params:
        name = "filter[createdAt][period]"
        try:
            filters.created_from = now - parse_duration(params[name], field=name)
        except InvalidInput as exc:
            details.update(exc.details)
    if "filter[createdAt][from]" in params:
        name = "filter[createdAt][from]"
        try:
            moment = parse_moment(params[name], field=name)
            # Given together with a period, both apply: the later start wins.
            filters.created_from = max(filter(None, (filters.created_from, moment)))
        except InvalidInput as exc:
            details.update(exc.details)
    if "filter[createdAt][to]" in params:
        name = "filter[createdAt][to]"
        try:
            filters.created_to = parse_moment(params[name], field=name)
        except InvalidInput as exc:
            details.update(exc.details)

    size = DEFAULT_PAGE_SIZE
    if "page[size]" in params:
        raw = params["page[size]"]
        if re.fullmatch(r"[0-9]{1,3}", raw) and 1 <= int(raw) <= MAX_PAGE_SIZE:
            size = int(raw)
        else:
            details["page[size]"] = f"must be a whole number from 1 to {MAX_PAGE_SIZE}"
    after, before = params.get("page[after]"), params.get("page[before]")
    if after is not None and before is not None:
        details["page[before]"] = "use page[after] or page[before], not both"
    if details:
        raise InvalidInput(details)
    return ListQuery(filters=filters, size=size, after=after, before=before)
