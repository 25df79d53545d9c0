"""GET /waitpoints/tokens: Trigger.dev's filters alone and combined, and keyset cursors."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import WaitpointFactory
from tests.helpers import TOKENS
from waitpoints.models import Waitpoint, WaitpointStatus
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
def mixed(environment):
    """Tokens in every state, oldest first, with distinct creation times, keys and tags."""
    now = timezone.now()

    def token(minutes_ago, tags, key=None, **fields):
        return WaitpointFactory(
            environment=environment,
            created_at=now - timedelta(minutes=minutes_ago),
            tags=tags,
            idempotency_key=key,
            **fields,
        )

    return {
        "waiting_old": token(300, ["a"], key="k-1"),
        "waiting_new": token(10, ["b"]),
        "completed": token(
            60,
            ["a", "b"],
            key="k-2",
            status=WaitpointStatus.COMPLETED,
            output={"ok": 1},
            completed_at=now,
        ),
        "timed_out": token(
            120, ["c"], status=WaitpointStatus.TIMED_OUT, output_is_error=True, completed_at=now
        ),
        # Past its deadline but not yet swept: reads must call it TIMED_OUT.
        "overdue": token(30, ["c"], timeout_at=now - timedelta(seconds=1)),
    }


def test_newest_first_without_filters(api, mixed):
    expected = ["waiting_new", "overdue", "completed", "timed_out", "waiting_old"]
    assert ids(api.get(TOKENS)) == [mixed[name].id for name in expected]


def test_list_items_have_token_fields_but_no_output(api, mixed):
    item = api.get(TOKENS).json()["data"][0]
    assert set(item) == {
        "id", "url", "status", "completedAt", "timeoutAt", "idempotencyKey",
        "idempotencyKeyExpiresAt", "tags", "createdAt", "title", "context", "display", "response",
        "resolution",
    }  # fmt: skip
    assert "output" not in item


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("WAITING", {"waiting_old", "waiting_new"}),
        ("COMPLETED", {"completed"}),
        ("TIMED_OUT", {"timed_out", "overdue"}),
        ("WAITING,TIMED_OUT", {"waiting_old", "waiting_new", "timed_out", "overdue"}),
        ("COMPLETED,TIMED_OUT", {"completed", "timed_out", "overdue"}),
        ("WAITING,COMPLETED", {"waiting_old", "waiting_new", "completed"}),
        (
            "WAITING,COMPLETED,TIMED_OUT",
            {"waiting_old", "waiting_new", "completed", "timed_out", "overdue"},
        ),
        ("waiting, timed_out", {"waiting_old", "waiting_new", "timed_out", "overdue"}),
    ],
)
def test_status_filter_is_exact_for_every_combination(api, mixed, value, expected):
    response = api.get(TOKENS, {"filter[status]": value})
    assert set(ids(response)) == {mixed[name].id for name in expected}
    wanted = {status.strip().upper() for status in value.split(",")}
    assert {item["status"] for item in response.json()["data"]} <= wanted


def test_overdue_token_is_listed_as_timed_out_before_the_sweeper(api, mixed):
    overdue = mixed["overdue"]
    item = next(item for item in api.get(TOKENS).json()["data"] if item["id"] == overdue.id)
    assert item["status"] == "TIMED_OUT"
    assert Waitpoint.objects.get(id=overdue.id).status == WaitpointStatus.WAITING


def test_idempotency_key_filter(api, mixed):
    assert ids(api.get(TOKENS, {"filter[idempotencyKey]": "k-2"})) == [mixed["completed"].id]
    assert ids(api.get(TOKENS, {"filter[idempotencyKey]": "k-3"})) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", {"waiting_old", "completed"}),
        ("b", {"waiting_new", "completed"}),
        ("a,c", {"waiting_old", "completed", "timed_out", "overdue"}),
        ("zzz", set()),
    ],
)
def test_tags_filter_matches_any_of_the_tags(api, mixed, value, expected):
    assert set(ids(api.get(TOKENS, {"filter[tags]": value}))) == {mixed[n].id for n in expected}


def test_tags_filter_lists_each_token_once(api, mixed):
    assert ids(api.get(TOKENS, {"filter[tags]": "a,b"})).count(mixed["completed"].id) == 1


def test_created_at_period_filter(api, mixed):
    found = set(ids(api.get(TOKENS, {"filter[createdAt][period]": "90m"})))
    assert found == {mixed[n].id for n in ("waiting_new", "overdue", "completed")}


def test_created_at_from_and_to_take_epoch_ms_and_iso_dates(api, mixed):
    now = timezone.now()
    from_ms = str(int((now - timedelta(minutes=130)).timestamp() * 1000))
    to_iso = (now - timedelta(minutes=20)).isoformat()
    found = set(
        ids(api.get(TOKENS, {"filter[createdAt][from]": from_ms, "filter[createdAt][to]": to_iso}))
    )
    assert found == {mixed[n].id for n in ("overdue", "completed", "timed_out")}


def test_period_and_from_together_both_apply(api, mixed):
    now = timezone.now()
    wide_from = (now - timedelta(hours=6)).isoformat()
    narrow_from = (now - timedelta(minutes=45)).isoformat()
    for query in (
        {"filter[createdAt][period]": "90m", "filter[createdAt][from]": wide_from},
        {"filter[createdAt][period]": "1d", "filter[createdAt][from]": narrow_from},
    ):
        expected = {"waiting_new", "overdue"} | (
            {"completed"} if "90m" in query.values() else set()
        )
        assert set(ids(api.get(TOKENS, query))) == {mixed[n].id for n in expected}


def test_all_filters_combined(api, mixed):
    now = timezone.now()
    query = {
        "filter[status]": "WAITING,COMPLETED",
        "filter[tags]": "a",
        "filter[idempotencyKey]": "k-1",
        "filter[createdAt][period]": "1d",
        "filter[createdAt][from]": (now - timedelta(hours=6)).isoformat(),
        "filter[createdAt][to]": str(int(now.timestamp() * 1000)),
    }
    assert ids(api.get(TOKENS, query)) == [mixed["waiting_old"].id]
    assert ids(api.get(TOKENS, {**query, "filter[status]": "COMPLETED"})) == []
    assert ids(api.get(TOKENS, {**query, "filter[tags]": "b"})) == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("filter[status]", "DONE"),
        ("filter[status]", "WAITING,NOPE"),
        ("filter[status]", ""),
        ("filter[status]", ","),
        ("filter[tags]", "x" * 128),
        ("filter[tags]", ",".join(f"t{i}" for i in range(11))),
        ("filter[tags]", "a\x00b"),
        ("filter[idempotencyKey]", "a\x00b"),
        ("filter[idempotencyKey]", "k" * 2049),
        ("filter[createdAt][period]", "yesterday"),
        ("filter[createdAt][period]", "1" * 5000 + "d"),
        ("filter[createdAt][from]", "not a date"),
        ("filter[createdAt][from]", "999999999999999"),
        ("filter[createdAt][to]", "2024-13-45"),
        ("filter[createdAt][to]", "2024-01-01T00:00:00\x00x"),
        ("filter[createdAt][to]", "9999-12-31T23:59:59-23:59"),
        ("page[size]", "0"),
        ("page[size]", "101"),
        ("page[size]", "-1"),
        ("page[size]", "ten"),
        ("page[size]", "²"),
        ("page[size]", "9" * 5000),
        ("page[after]", "garbage!"),
        ("page[after]", "eyJhIjogMX0"),
        ("page[before]", "W10"),
    ],
)
def test_invalid_list_parameters_are_422_naming_the_parameter(api, mixed, param, value):
    response = api.get(TOKENS, {param: value})
    assert response.status_code == 422, response.content
    assert param in response.json()["details"], response.json()
    assert param in response.json()["error"]


def cursor_of(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        ["2024-01-01T00:00:00+00:00", "waitpoint_\u0000"],
        ["2024-01-01T00:00:00+00:00", 5],
        ["9999-12-31T23:59:59-23:59", "waitpoint_x"],
        ["0001-01-01T00:00:00+14:00", "waitpoint_x"],
        [None, "waitpoint_x"],
        ["2024-01-01T00:00:00+00:00"],
        {"createdAt": 1, "id": 2},
        "text",
    ],
)
def test_forged_cursors_are_422_or_harmless_never_500(api, mixed, payload):
    for param in ("page[after]", "page[before]"):
        response = api.get(TOKENS, {param: cursor_of(payload)})
        assert response.status_code in (200, 422), (param, response.content)
        if response.status_code == 422:
            assert param in response.json()["details"]


def test_both_cursors_at_once_is_422(api, mixed):
    first = api.get(TOKENS, {"page[size]": 2}).json()["pagination"]["next"]
    response = api.get(TOKENS, {"page[after]": first, "page[before]": first})
    assert response.status_code == 422
    assert "page[before]" in response.json()["details"]


def test_page_size_default_and_bounds(api, environment):
    for _ in range(101):
        token_create(environment=environment)
    assert len(ids(api.get(TOKENS))) == 25
    assert len(ids(api.get(TOKENS, {"page[size]": "1"}))) == 1
    assert len(ids(api.get(TOKENS, {"page[size]": "100"}))) == 100


def test_list_query_count_does_not_grow_with_the_page(
    api, environment, django_assert_max_num_queries
):
    for index in range(30):
        token_create(environment=environment, tags=[f"t{index}", "all"])
    # auth (key lookup), page rows, tags prefetch; +1 for a key's last-used touch.
    with django_assert_max_num_queries(4):
        response = api.get(TOKENS, {"page[size]": 30, "filter[tags]": "all"})
    assert len(ids(response)) == 30


def walk(api, query, *, direction="page[after]", start=None):
    """Follow cursors to the end; returns (ids, pages)."""
    seen, pages, cursor = [], 0, start
    while True:
        params = dict(query)
        if cursor is not None:
            params[direction] = cursor
        body = api.get(TOKENS, params).json()
        pages += 1
        seen.extend(item["id"] for item in body["data"])
        cursor = body["pagination"].get("next" if direction == "page[after]" else "previous")
        if cursor is None:
            return seen, pages


def test_cursor_paging_through_250_tokens_while_tokens_are_inserted(api, environment):
    base = timezone.now() - timedelta(hours=1)
    # Some share one creation instant: the id breaks the tie, so nothing is skipped.
    original = [
        token_create(environment=environment, now=base + timedelta(seconds=i // 3))
        for i in range(250)
    ]
    expected = [
        c.waitpoint.id
        for c in sorted(
            original, key=lambda c: (c.waitpoint.created_at, c.waitpoint.id), reverse=True
        )
    ]

    seen, cursor, pages, inserted = [], None, [], []
    while True:
        params = {"page[size]": 23}
        if cursor:
            params["page[after]"] = cursor
        body = api.get(TOKENS, params).json()
        pages.append(body)
        seen.extend(item["id"] for item in body["data"])
        # Writers keep adding tokens (newer than everything) while the reader pages.
        inserted += [token_create(environment=environment).waitpoint.id for _ in range(3)]
        cursor = body["pagination"].get("next")
        if cursor is None:
            break

    assert seen == expected  # no duplicate, no gap, newest first
    assert len(pages) == 11
    assert "previous" not in pages[0]["pagination"]
    assert not set(inserted) & set(seen)

    # page[before] walks back: each page's `previous` cursor returns exactly the page before it.
    for earlier, later in zip(pages, pages[1:], strict=False):
        back = api.get(TOKENS, {"page[size]": 23, "page[before]": later["pagination"]["previous"]})
        assert ids(back) == [item["id"] for item in earlier["data"]]
    # Before the first page are the tokens inserted meanwhile, the oldest of them first in line.
    newer = api.get(TOKENS, {"page[size]": 23, "page[before]": cursor_of_first(pages[0])})
    assert set(ids(newer)) == set(inserted[:23])


def cursor_of_first(page) -> str:
    created = page["data"][0]
    moment = datetime.fromisoformat(created["createdAt"].replace("Z", "+00:00")).astimezone(UTC)
    return cursor_of([moment.isoformat(), created["id"]])


def test_paging_backwards_from_the_last_page_returns_every_page_again(api, environment):
    for _ in range(60):
        token_create(environment=environment)
    forward, cursor = [], None
    while True:
        body = api.get(TOKENS, {"page[size]": 7, **({"page[after]": cursor} if cursor else {})})
        forward.append([item["id"] for item in body.json()["data"]])
        previous = body.json()["pagination"].get("previous")
        cursor = body.json()["pagination"].get("next")
        if cursor is None:
            break
    assert [len(page) for page in forward] == [7] * 8 + [4]

    backward, cursor = [], previous  # the last page's `previous`
    while cursor is not None:
        body = api.get(TOKENS, {"page[size]": 7, "page[before]": cursor}).json()
        backward.append([item["id"] for item in body["data"]])
        cursor = body["pagination"].get("previous")
    assert list(reversed(backward)) == forward[:-1]


def test_filters_and_cursors_combine(api, environment):
    for index in range(40):
        created = token_create(environment=environment, tags=["even" if index % 2 == 0 else "odd"])
        if index % 4 == 0:
            token_complete(
                environment=environment,
                token_id=created.waitpoint.id,
                data=index,
                via="api",
                actor="t",
            )
    seen, _ = walk(api, {"page[size]": 3, "filter[tags]": "even", "filter[status]": "WAITING"})
    assert len(seen) == len(set(seen)) == 10
    stored = Waitpoint.objects.filter(id__in=seen)
    assert {w.status for w in stored} == {"WAITING"}
    assert all(w.tag_names == ["even"] for w in stored)


def test_list_never_shows_another_environments_tokens(
    api, other_api, environment, other_environment
):
    mine = token_create(environment=environment, tags=["shared"], idempotency_key="same")
    theirs = token_create(environment=other_environment, tags=["shared"], idempotency_key="same")
    for query in (
        {},
        {"filter[tags]": "shared"},
        {"filter[idempotencyKey]": "same"},
        {"filter[status]": "WAITING"},
    ):
        assert ids(api.get(TOKENS, query)) == [mine.waitpoint.id]
        assert ids(other_api.get(TOKENS, query)) == [theirs.waitpoint.id]
    # A cursor made in one environment pages only that environment's tokens in the other.
    cursor = cursor_of([(timezone.now() + timedelta(days=1)).isoformat(), "waitpoint_z"])
    assert ids(other_api.get(TOKENS, {"page[after]": cursor})) == [theirs.waitpoint.id]


def test_idempotency_key_filter_matches_the_exact_key(api, environment):
    key = "k" * 2048
    token = token_create(environment=environment, idempotency_key=key)
    token_create(environment=environment, idempotency_key=key[:-1])
    assert ids(api.get(TOKENS, {"filter[idempotencyKey]": key})) == [token.waitpoint.id]


def test_created_at_far_dates_are_accepted(api, mixed):
    assert ids(api.get(TOKENS, {"filter[createdAt][from]": "0001-01-02T00:00:00+14:00"}))
    assert ids(api.get(TOKENS, {"filter[createdAt][to]": "9999-12-30T23:59:59-14:00"}))
    assert ids(api.get(TOKENS, {"filter[createdAt][from]": "0"}))
