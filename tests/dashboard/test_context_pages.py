"""Inbox pages over several environments: PostgreSQL reads each environment's newest rows from
its own index and merges them (selectors.first_rows); the pages are those of the plain query."""

from datetime import timedelta

import pytest
from django.utils import timezone

from waitpoints.environments.services import environment_get_or_create
from waitpoints.models import Waitpoint
from waitpoints.tokens import selectors
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db


def walk(environments, *, merged: bool, size: int = 4) -> tuple[list[str], list[str]]:
    """Every id, newest first, page by page; then back again with `before`."""
    filters = selectors.TokenFilters(statuses=["WAITING"])
    split = environments if merged else ()

    def page(**cursor):
        tokens = selectors.token_list(environments=environments, filters=filters)
        return selectors.paginate(tokens, size=size, environments=split, **cursor)

    forward, current = [], page()
    pages = [current]
    while True:
        forward += [token.id for token in current.items]
        if not current.next_cursor:
            break
        current = page(after=current.next_cursor)
        pages.append(current)
    backward = []
    while current.previous_cursor:
        current = page(before=current.previous_cursor)
        backward = [token.id for token in current.items] + backward
    return forward, backward


def test_merged_pages_equal_the_plain_query(environment):
    environments = [environment] + [environment_get_or_create(slug=s) for s in ("staging", "dev")]
    now = timezone.now()
    for number in range(23):
        token = token_create(
            environment=environments[(number * 7) % 3], timeout="1h", title=f"t{number}"
        ).waitpoint
        # Interleaved, with ties on created_at (the id breaks them).
        Waitpoint.objects.filter(id=token.id).update(
            created_at=now - timedelta(seconds=number // 2)
        )
    plain, plain_back = walk(environments, merged=False)
    merged, merged_back = walk(environments, merged=True)
    assert len(set(plain)) == 23
    assert merged == plain
    assert merged_back == plain_back == plain[: len(plain_back)]
