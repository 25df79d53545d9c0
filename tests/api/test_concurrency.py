"""Races settled by the database: concurrent creates with one key, concurrent completions.

Real threads, each with its own PostgreSQL connection, released together by a barrier.
"""

import pytest
from rest_framework.test import APIClient

from tests.concurrency import run_concurrently
from tests.helpers import TOKENS
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_20_concurrent_creates_with_one_key_make_exactly_one_token(secret_key):
    def create():
        response = client_for(secret_key).post(
            TOKENS, {"idempotencyKey": "once", "tags": ["race"]}, format="json"
        )
        return response.status_code, response.json()

    results = run_concurrently([create] * 20)

    assert {status for status, _ in results} == {200}
    assert len({body["id"] for _, body in results}) == 1
    assert sorted(body["isCached"] for _, body in results) == [False] + [True] * 19
    assert Waitpoint.objects.count() == 1
    assert Waitpoint.objects.get().tag_names == ["race"]


def test_20_concurrent_creates_after_the_ttl_make_exactly_one_new_token(environment, secret_key):
    from datetime import timedelta

    from django.utils import timezone

    old = token_create(environment=environment, idempotency_key="k").waitpoint
    Waitpoint.objects.filter(id=old.id).update(
        idempotency_key_expires_at=timezone.now() - timedelta(seconds=1)
    )

    def create():
        return client_for(secret_key).post(TOKENS, {"idempotencyKey": "k"}, format="json").json()

    results = run_concurrently([create] * 20)

    new_ids = {body["id"] for body in results}
    assert len(new_ids) == 1 and old.id not in new_ids
    assert sorted(body["isCached"] for body in results) == [False] + [True] * 19
    assert Waitpoint.objects.count() == 2


def test_10_concurrent_completions_store_one_output_and_all_succeed(environment, secret_key):
    token = token_create(environment=environment).waitpoint

    def complete(n):
        return lambda: client_for(secret_key).post(
            f"{TOKENS}/{token.id}/complete", {"data": {"by": n}}, format="json"
        )

    responses = run_concurrently([complete(n) for n in range(10)])

    assert [(r.status_code, r.json()) for r in responses] == [(200, {"success": True})] * 10
    stored = Waitpoint.objects.get(id=token.id)
    assert stored.status == WaitpointStatus.COMPLETED
    events = AuditEvent.objects.filter(waitpoint=stored, action="completed")
    assert events.count() == 1
    assert stored.output == events.get().data
    assert stored.output["by"] in range(10)


def test_concurrent_completions_through_every_way_in_store_one_output(environment, secret_key):
    """Secret key, public access token and callback URL racing on one token: one winner."""
    created = token_create(environment=environment).waitpoint
    from waitpoints.tokens import public_access

    public = public_access.issue(created)
    callback_path = "/" + callback_url(created).split("/", 3)[3]

    calls = []
    for n in range(4):
        calls.append(
            lambda n=n: client_for(secret_key).post(
                f"{TOKENS}/{created.id}/complete", {"data": f"key-{n}"}, format="json"
            )
        )
        calls.append(
            lambda n=n: client_for(public).post(
                f"{TOKENS}/{created.id}/complete", {"data": f"public-{n}"}, format="json"
            )
        )
        calls.append(lambda n=n: APIClient().post(callback_path, f"callback-{n}", format="json"))

    responses = run_concurrently(calls)

    assert {r.status_code for r in responses} == {200}
    stored = Waitpoint.objects.get(id=created.id)
    assert AuditEvent.objects.filter(waitpoint=stored, action="completed").count() == 1
    via = {"key": "api", "public": "api", "callback": "callback"}[stored.output.split("-")[0]]
    assert stored.completed_via == via
