"""Idempotency storm: 50 creates released at once, each on its own PostgreSQL connection.

One key -> exactly one token (one `isCached: false`, 49 cached answers naming it);
50 distinct keys -> 50 tokens, none cached, each key held by its own token.
"""

import pytest
from rest_framework.test import APIClient

from tests.concurrency import run_concurrently
from tests.helpers import TOKENS
from waitpoints.models import AuditEvent, Waitpoint, WaitpointTag

pytestmark = pytest.mark.django_db(transaction=True)

STORM = 50


def create_call(secret: str, body: dict):
    def create():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post(TOKENS, body, format="json")
        return response.status_code, response.json()

    return create


def test_50_concurrent_creates_with_one_key_make_one_token(secret_key, environment):
    body = {"idempotencyKey": "storm", "tags": ["storm", "one-key"], "timeout": "1h"}

    results = run_concurrently([create_call(secret_key, body)] * STORM)

    assert [status for status, _ in results] == [200] * STORM, results
    ids = {answer["id"] for _, answer in results}
    assert len(ids) == 1
    assert sorted(answer["isCached"] for _, answer in results) == [False] + [True] * (STORM - 1)
    # Every answer carries the same callback URL, and each a working public token.
    assert len({answer["url"] for _, answer in results}) == 1
    assert all(answer["publicAccessToken"] for _, answer in results)

    (token,) = Waitpoint.objects.all()
    assert token.id in ids and token.environment_id == environment.id
    assert token.idempotency_key == "storm" and token.idempotency_key_active
    # The losers' inserts rolled back completely: no orphan tags or audit rows.
    assert WaitpointTag.objects.count() == 2
    assert sorted(WaitpointTag.objects.values_list("name", flat=True)) == ["one-key", "storm"]
    assert not AuditEvent.objects.exclude(waitpoint=token).exists()


def test_50_concurrent_creates_with_distinct_keys_make_50_tokens(secret_key):
    calls = [create_call(secret_key, {"idempotencyKey": f"key-{n}"}) for n in range(STORM)]

    results = run_concurrently(calls)

    assert [status for status, _ in results] == [200] * STORM, results
    assert not any(answer["isCached"] for _, answer in results)
    ids = [answer["id"] for _, answer in results]
    assert len(set(ids)) == STORM
    stored = dict(Waitpoint.objects.values_list("id", "idempotency_key"))
    assert stored == {ids[n]: f"key-{n}" for n in range(STORM)}


def test_50_concurrent_creates_with_one_key_in_two_environments_make_two_tokens(
    secret_key, other_secret_key, environment, other_environment
):
    body = {"idempotencyKey": "shared-name"}
    calls = [create_call(secret_key, body), create_call(other_secret_key, body)] * (STORM // 2)

    results = run_concurrently(calls)

    assert {status for status, _ in results} == {200}
    mine = {answer["id"] for _, answer in results[0::2]}
    theirs = {answer["id"] for _, answer in results[1::2]}
    assert len(mine) == 1 and len(theirs) == 1 and mine != theirs
    assert Waitpoint.objects.filter(environment=environment).count() == 1
    assert Waitpoint.objects.filter(environment=other_environment).count() == 1


def test_50_concurrent_triggers_with_one_key_start_one_run(secret_key, environment):
    from tests.runs import tasks_for_tests  # noqa: F401  (registers test-echo)
    from waitpoints.models import Run

    def trigger():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret_key}")
        response = client.post(
            "/api/v1/tasks/test-echo/trigger",
            {"payload": {"n": 1}, "options": {"idempotencyKey": "storm"}},
            format="json",
        )
        return response.status_code, response.json()

    results = run_concurrently([trigger] * STORM)

    assert [status for status, _ in results] == [200] * STORM, results
    assert len({answer["id"] for _, answer in results}) == 1
    (run,) = Run.objects.all()
    assert run.id == results[0][1]["id"] and run.idempotency_key == "storm"
