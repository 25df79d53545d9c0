"""The inbox search box: words of the title or the context (whole words, any case), every word
must match, and an id's start still finds its token. PostgreSQL answers from the full-text
index; SQLite (the embedded default) from substrings."""

import pytest
from django.db import connection

from tests.dashboard.test_inbox import INBOX, listed_ids
from waitpoints.models import Waitpoint
from waitpoints.tokens import sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(make_token):
    return {
        "refund": make_token(
            title="Refund order #5010", context={"reason": "Parcel never arrived", "sku": 4711}
        ),
        "post": make_token(
            title="Moderate comment", context={"post": {"text": "Buy cheap watches now"}}
        ),
        "deploy": make_token(title="Deploy billing to prod", context=["harbor", "release 7"]),
        "plain": make_token(title="Untitled thing"),
    }


def search(client, text: str, **params) -> set[str]:
    return listed_ids(client.get(INBOX, {"q": text, "status": "", **params}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund", {"refund"}),  # a title word, any case
        ("REFUND order", {"refund"}),  # every word must match
        ("refund watches", set()),
        ("arrived", {"refund"}),  # a context string
        ("watches", {"post"}),  # nested in the context
        ("harbor", {"deploy"}),  # a context that is a list
        ("4711", {"refund"}),  # a context number
        ("nothing-like-this", set()),
    ],
)
def test_search_by_title_and_context(reviewer_client, tokens, text, expected):
    assert search(reviewer_client, text) == {tokens[name].id for name in expected}


def test_id_start_still_finds_its_token(reviewer_client, tokens):
    token = tokens["plain"]
    assert search(reviewer_client, token.id[:18]) == {token.id}
    assert search(reviewer_client, token.id.removeprefix("waitpoint_")[:8]) == {token.id}


@pytest.mark.parametrize(
    "hostile", ["'", "a & b", "!x", "(a | b)", "x:*", "\\", "%_", "' OR 1=1 --", "ـ", "💥"]
)
def test_any_text_is_safe_to_search(reviewer_client, tokens, hostile):
    response = reviewer_client.get(INBOX, {"q": hostile, "status": ""})
    assert response.status_code == 200


def test_search_keeps_the_other_filters(reviewer_client, make_token, other_environment):
    here = make_token(title="Refund A", tags=["vip"])
    make_token(title="Refund B")
    make_token(title="Refund C", environment=other_environment, tags=["vip"])
    assert search(reviewer_client, "refund", tags="vip", env="prod") == {here.id}


@pytest.mark.postgres_only("the full-text index is PostgreSQL's")
def test_search_uses_the_full_text_index(tokens, reviewer_client):
    """The query's expression is the index's: if the two ever differ, PostgreSQL scans the
    table instead (the planner is told not to, so a usable index is the only other way)."""
    query = Waitpoint.objects.filter(sql.search_matches(["refund", "order"])).values("id")
    statement, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "waitpoint_search_idx" in plan, plan
    assert search(reviewer_client, "refund order") == {tokens["refund"].id}


@pytest.mark.parametrize("rare_matches", [0, 1000], ids=["listed-as-condition", "listed-by-id"])
def test_rare_and_common_words_find_the_same_tokens(
    reviewer_client, make_token, monkeypatch, rare_matches
):
    """PostgreSQL lists a rare word's matches by id and keeps a common one as a condition
    (selectors.search_q): both ways find the same tokens, page after page."""
    from waitpoints.tokens import selectors

    monkeypatch.setattr(selectors, "RARE_MATCHES", rare_matches)
    refunds = {make_token(title=f"Refund {number}").id for number in range(5)}
    make_token(title="Something else")
    first = reviewer_client.get(INBOX, {"q": "refund", "size": "10"})
    assert listed_ids(first) == refunds
