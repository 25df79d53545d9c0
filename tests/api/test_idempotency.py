"""Idempotency keys: a live key returns the original token; after its TTL a new one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.helpers import TOKENS
from waitpoints.models import Waitpoint

pytestmark = pytest.mark.django_db


def test_same_key_returns_the_same_token_cached(api, create_token):
    first = create_token(idempotencyKey="order-7", tags=["a"], timeout="1h")
    second = create_token(idempotencyKey="order-7", tags=["b"], timeout="2h")

    assert first["isCached"] is False
    assert second["isCached"] is True
    assert second["id"] == first["id"]
    assert second["url"] == first["url"]
    assert second["publicAccessToken"]
    assert Waitpoint.objects.count() == 1
    # The cached answer is the original token: the second body changed nothing.
    assert Waitpoint.objects.get().tag_names == ["a"]


def test_key_stays_cached_after_the_token_completes(api, create_token):
    first = create_token(idempotencyKey="k")
    api.post(f"{TOKENS}/{first['id']}/complete", {"data": 1}, format="json")
    again = create_token(idempotencyKey="k")
    assert (again["id"], again["isCached"]) == (first["id"], True)
    assert api.get(f"{TOKENS}/{again['id']}").json()["status"] == "COMPLETED"


def test_key_stays_cached_after_the_token_times_out(api, create_token):
    first = create_token(idempotencyKey="k", idempotencyKeyTTL="1d")
    Waitpoint.objects.filter(id=first["id"]).update(timeout_at=timezone.now())
    again = create_token(idempotencyKey="k")
    assert (again["id"], again["isCached"]) == (first["id"], True)
    assert api.get(f"{TOKENS}/{again['id']}").json()["status"] == "TIMED_OUT"


def test_after_the_ttl_the_same_key_creates_a_new_token(api, create_token):
    first = create_token(idempotencyKey="k", idempotencyKeyTTL="30s")
    # Let the TTL pass (the clock is not mocked: the stored expiry is moved instead).
    Waitpoint.objects.filter(id=first["id"]).update(
        idempotency_key_expires_at=timezone.now() - timedelta(milliseconds=1)
    )
    second = create_token(idempotencyKey="k")
    third = create_token(idempotencyKey="k")

    assert second["isCached"] is False and second["id"] != first["id"]
    assert (third["id"], third["isCached"]) == (second["id"], True)
    # The old token keeps its key for reads; both show up under the key filter.
    assert api.get(f"{TOKENS}/{first['id']}").json()["idempotencyKey"] == "k"
    listed = api.get(TOKENS, {"filter[idempotencyKey]": "k"}).json()["data"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]


def test_ttl_defaults_to_one_hour_and_is_reported(api, create_token):
    token = create_token(idempotencyKey="k")
    body = api.get(f"{TOKENS}/{token['id']}").json()
    stored = Waitpoint.objects.get(id=token["id"])
    assert stored.idempotency_key_expires_at - stored.created_at == timedelta(hours=1)
    assert body["idempotencyKey"] == "k"
    assert body["idempotencyKeyExpiresAt"].endswith("Z")


def test_custom_ttl(api, create_token):
    token = create_token(idempotencyKey="k", idempotencyKeyTTL="1h30m")
    stored = Waitpoint.objects.get(id=token["id"])
    assert stored.idempotency_key_expires_at - stored.created_at == timedelta(minutes=90)


def test_without_a_key_every_create_is_new_and_no_key_is_reported(api, create_token):
    first, second = create_token(), create_token()
    assert first["id"] != second["id"]
    assert not first["isCached"] and not second["isCached"]
    body = api.get(f"{TOKENS}/{first['id']}").json()
    assert body["idempotencyKey"] is None
    assert body["idempotencyKeyExpiresAt"] is None


def test_keys_are_per_environment(api, other_api, create_token):
    mine = create_token(idempotencyKey="shared")
    theirs = create_token(other_api, idempotencyKey="shared")
    assert theirs["isCached"] is False
    assert theirs["id"] != mine["id"]


def test_keys_are_exact(api, create_token):
    base = create_token(idempotencyKey="Key")
    for variant in ("key", "Key ", " Key", "Key\n"):
        assert create_token(idempotencyKey=variant)["id"] != base["id"]
    assert create_token(idempotencyKey="Key")["id"] == base["id"]


def test_longest_key_works(api, create_token):
    key = "é" * 2048
    first = create_token(idempotencyKey=key)
    again = create_token(idempotencyKey=key)
    assert (again["id"], again["url"], again["isCached"]) == (first["id"], first["url"], True)
