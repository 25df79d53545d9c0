"""Issue 13, item 7: rate limits per API key, the notify cap, the cap on tokens waiting per
environment, and login brute-force lockouts. The suite turns limits off (tests/conftest.py);
each test here turns on the one it tests."""

import time

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from tests.helpers import TOKENS
from waitpoints.api.throttles import ApiKeyThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by hand: no sleeping, no timing assertions."""
    now = [time.time()]
    monkeypatch.setattr(ApiKeyThrottle, "timer", lambda self: now[0])
    return now


@override_settings(WAITPOINTS_RATE_LIMITS=True, WAITPOINTS_RATE_LIMIT_CREATE="3/m")
def test_creates_beyond_the_rate_are_429_with_retry_after_and_recover(api, other_api, clock):
    assert [api.post(TOKENS, {}, format="json").status_code for _ in range(3)] == [200] * 3
    refused = api.post(TOKENS, {}, format="json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Per key: another key (another environment here) is not affected; listing neither.
    assert other_api.post(TOKENS, {}, format="json").status_code == 200
    assert api.get(TOKENS).status_code == 200
    clock[0] += 61
    assert api.post(TOKENS, {}, format="json").status_code == 200


@override_settings(
    WAITPOINTS_RATE_LIMITS=True,
    WAITPOINTS_RATE_LIMIT_LIST="2/m",
    WAITPOINTS_RATE_LIMIT_COMPLETE="1/m",
)
def test_list_and_complete_have_their_own_buckets(api, create_token, clock):
    first, second = create_token(), create_token()
    assert [api.get(TOKENS).status_code for _ in range(3)] == [200, 200, 429]
    complete = f"{TOKENS}/{first['id']}/complete"
    assert api.post(complete, {}, format="json").status_code == 200
    again = api.post(f"{TOKENS}/{second['id']}/complete", {}, format="json")
    assert again.status_code == 429 and again.json()["code"] == "rate_limited"


@override_settings(WAITPOINTS_RATE_LIMITS=False, WAITPOINTS_RATE_LIMIT_CREATE="1/m")
def test_rate_limits_off_means_off(api):
    assert [api.post(TOKENS, {}, format="json").status_code for _ in range(3)] == [200] * 3


@override_settings(WAITPOINTS_RATE_LIMITS=True, WAITPOINTS_NOTIFY_EMAILS_PER_KEY_PER_HOUR=3)
def test_notify_emails_per_key_per_hour_are_capped(api, mailoutbox):
    body = {"notify": ["a@example.com", "b@example.com"]}
    assert api.post(TOKENS, body, format="json").status_code == 200
    refused = api.post(TOKENS, body, format="json")  # 4 > 3
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) <= 3600
    # The refused create created nothing; one more address still fits.
    ok = api.post(TOKENS, {"notify": ["c@example.com"]}, format="json")
    assert ok.status_code == 200


@override_settings(WAITPOINTS_RATE_LIMITS=True, WAITPOINTS_NOTIFY_EMAILS_PER_KEY_PER_HOUR=2)
def test_refused_creates_and_idempotent_replays_spend_no_email_quota(api, mailoutbox):
    body = {"notify": ["a@example.com", "b@example.com"], "idempotencyKey": "order-1"}
    refused = api.post(TOKENS, {**body, "timeout": "soon"}, format="json")
    assert refused.status_code == 422
    first = api.post(TOKENS, body, format="json")
    assert first.status_code == 200 and first.json()["isCached"] is False
    replay = api.post(TOKENS, body, format="json")  # the same token: no email, no charge
    assert replay.status_code == 200 and replay.json()["isCached"] is True
    assert replay.json()["id"] == first.json()["id"]
    # The quota (2) went to the one token that sends emails: a third address is refused.
    over = api.post(TOKENS, {"notify": ["c@example.com"]}, format="json")
    assert over.status_code == 429


@override_settings(WAITPOINTS_MAX_WAITING_PER_ENVIRONMENT=2)
def test_tokens_waiting_per_environment_are_capped(api, other_api):
    assert [api.post(TOKENS, {}, format="json").status_code for _ in range(2)] == [200, 200]
    refused = api.post(TOKENS, {}, format="json")
    assert refused.status_code == 422
    assert "environment" in refused.json()["details"]
    assert other_api.post(TOKENS, {}, format="json").status_code == 200  # per environment
    # A completion frees a place (after the cached count expires: clear it here).
    token = api.get(TOKENS).json()["data"][0]
    assert api.post(f"{TOKENS}/{token['id']}/complete", {}, format="json").status_code == 200
    cache.clear()
    assert api.post(TOKENS, {}, format="json").status_code == 200


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_login_is_locked_after_repeated_wrong_passwords(reviewer):
    client = Client()
    for _ in range(3):
        wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
        assert wrong.status_code in (200, 429)
    locked = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"})
    assert locked.status_code == 429  # even the right password, until the cool-off
    assert "_auth_user_id" not in client.session


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_right_password_still_signs_in_with_lockouts_on(reviewer):
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
