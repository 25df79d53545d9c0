"""`waitpoints.client.Client` against a live server started by the test (conftest.py)."""

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.concurrency import run_concurrently
from waitpoints import wait
from waitpoints.client import ApiError, Client, Token
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.tokens.services.create import token_create


def test_client_needs_no_django():
    code = "import sys; from waitpoints.client import Client; assert 'django' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sdk_and_client_retrieve_equal_tokens(client, environment):
    """The in-process SDK and the HTTP client report each token alike, field by field."""
    waiting = client.create_token(
        timeout="1h",
        idempotency_key="same-view",
        tags=["a", "b"],
        title="Same view",
        context={"n": [1, 2]},
    )
    completed = client.create_token(tags="one")
    client.complete_token(completed, {"approved": True, "by": ["x"]})
    timed_out = client.create_token()
    Waitpoint.objects.filter(id=timed_out.id).update(timeout_at=datetime.now(UTC))

    for created in (waiting, completed, timed_out):
        over_http = client.retrieve_token(created)
        in_process = wait.retrieve_token(created.id, environment=environment.slug)
        assert type(over_http) is type(in_process) is Token
        for field in dataclasses.fields(Token):
            assert getattr(in_process, field.name) == getattr(over_http, field.name), (
                created.id,
                field.name,
            )
        assert in_process.error == over_http.error
    assert (over_http.status, over_http.output_is_error) == ("TIMED_OUT", True)


def test_create_then_retrieve(client, server_url):
    created = client.create_token(
        timeout="1h", tags=["moderation", "user:1"], title="Post #1", context={"text": "hi"}
    )
    assert created.id.startswith("waitpoint_")
    assert created.url.startswith(f"{server_url}/api/v1/waitpoints/tokens/{created.id}/callback/")
    assert created.is_cached is False and created.public_access_token

    token = client.retrieve_token(created)
    assert (token.id, token.status, token.url) == (created.id, "WAITING", created.url)
    assert token.tags == ["moderation", "user:1"]
    assert (token.title, token.context) == ("Post #1", {"text": "hi"})
    assert token.timeout_at.tzinfo is not None
    assert timedelta(minutes=59) < token.timeout_at - token.created_at <= timedelta(hours=1)
    assert (token.output, token.output_is_error, token.error, token.completed_at) == (
        None, False, None, None,
    )  # fmt: skip


def test_create_with_a_datetime_timeout(client):
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    assert client.retrieve_token(client.create_token(timeout=moment)).timeout_at == moment


def test_idempotent_create(client):
    first = client.create_token(idempotency_key="job-9", idempotency_key_ttl="2h")
    again = client.create_token(idempotency_key="job-9")
    assert (again.id, again.is_cached, first.is_cached) == (first.id, True, False)
    token = client.retrieve_token(first.id)
    assert token.idempotency_key == "job-9"
    assert token.idempotency_key_expires_at - token.created_at == timedelta(hours=2)


def test_complete_then_retrieve_the_output(client):
    created = client.create_token()
    assert client.complete_token(created, {"approved": True}) is True
    assert client.complete_token(created.id, {"approved": False}) is True  # no-op
    token = client.retrieve_token(created.id)
    assert token.status == "COMPLETED"
    assert token.output == {"approved": True}
    assert token.completed_at is not None and token.error is None


def test_complete_without_data(client):
    created = client.create_token()
    client.complete_token(created)
    token = client.retrieve_token(created)
    assert (token.status, token.output) == ("COMPLETED", None)


def test_callback_url_and_public_access_token_work_over_http(client, server_url):
    by_callback = client.create_token()
    response = requests.post(by_callback.url, json={"via": "hook"}, timeout=10)
    assert response.json() == {"success": True}
    assert client.retrieve_token(by_callback).output == {"via": "hook"}

    by_public = client.create_token()
    with Client(server_url, by_public.public_access_token) as browser_like:
        assert browser_like.complete_token(by_public, "yes") is True
        with pytest.raises(ApiError) as denied:
            browser_like.list_tokens_page()
    assert denied.value.status_code == 403
    assert client.retrieve_token(by_public).output == "yes"


def test_timed_out_token_reports_the_error(client, environment):
    created = client.create_token()
    Waitpoint.objects.filter(id=created.id).update(timeout_at=datetime.now(UTC))
    token = client.retrieve_token(created)
    assert token.status == "TIMED_OUT" and token.output_is_error is True
    assert token.error["name"] == "WaitpointTimeoutError"
    assert token.completed_at == token.timeout_at


def test_list_with_filters(client, environment):
    approved = client.create_token(tags=["a"], idempotency_key="k1")
    client.complete_token(approved, "ok")
    waiting = client.create_token(tags=["b"])
    timed_out = client.create_token(tags=["a", "c"])
    Waitpoint.objects.filter(id=timed_out.id).update(timeout_at=datetime.now(UTC))

    def listed(**filters):
        return [token.id for token in client.list_tokens(**filters)]

    assert listed() == [timed_out.id, waiting.id, approved.id]
    assert listed(status="COMPLETED") == [approved.id]
    assert listed(status=["WAITING", "TIMED_OUT"]) == [timed_out.id, waiting.id]
    assert listed(tags=["a"]) == [timed_out.id, approved.id]
    assert listed(tags="b,c") == [timed_out.id, waiting.id]
    assert listed(idempotency_key="k1") == [approved.id]
    assert listed(period="1h", status="WAITING", tags=["b"]) == [waiting.id]
    now = datetime.now(UTC)
    assert listed(from_=now - timedelta(minutes=5), to=now) == listed()
    assert listed(to=now - timedelta(minutes=5)) == []
    assert listed(from_=str(int((now - timedelta(minutes=5)).timestamp() * 1000))) == listed()
    items = list(client.list_tokens(status="COMPLETED"))
    assert items[0].output is None  # lists carry no output, as the API


def test_list_pages_through_everything_while_tokens_are_added(client, environment):
    base = datetime.now(UTC) - timedelta(hours=1)
    expected = [
        token_create(environment=environment, now=base + timedelta(seconds=i // 2)).waitpoint
        for i in range(250)
    ]
    expected_ids = [
        w.id for w in sorted(expected, key=lambda w: (w.created_at, w.id), reverse=True)
    ]

    seen = []
    for index, token in enumerate(client.list_tokens(page_size=17)):
        seen.append(token.id)
        if index % 17 == 0:  # writers keep going while the iterator pages
            token_create(environment=environment)
    assert seen == expected_ids


def test_list_pages_forward_and_back(client, environment):
    for _ in range(12):
        token_create(environment=environment)
    first = client.list_tokens_page(page_size=5)
    second = client.list_tokens_page(page_size=5, after=first.next_cursor)
    third = client.list_tokens_page(page_size=5, after=second.next_cursor)
    assert [len(p.tokens) for p in (first, second, third)] == [5, 5, 2]
    assert first.previous_cursor is None and third.next_cursor is None
    back = client.list_tokens_page(page_size=5, before=third.previous_cursor)
    assert [t.id for t in back.tokens] == [t.id for t in second.tokens]


def test_errors_carry_status_message_details_and_request_id(client, server_url, environment):
    with pytest.raises(ApiError) as unauthorized, Client(server_url, "wp_prod_wrong") as wrong:
        wrong.list_tokens_page()
    assert (unauthorized.value.status_code, unauthorized.value.message) == (401, "Invalid API key")
    assert unauthorized.value.request_id and unauthorized.value.request_id in str(
        unauthorized.value
    )

    with pytest.raises(ApiError) as missing:
        client.retrieve_token("waitpoint_nope")
    assert missing.value.status_code == 404 and "not found" in missing.value.message

    with pytest.raises(ApiError) as invalid:
        client.create_token(timeout="soon", tags=["x" * 200])
    assert invalid.value.status_code == 422
    assert set(invalid.value.details) == {"timeout", "tags"}

    with pytest.raises(ApiError) as bad_filter:
        list(client.list_tokens(status="DONE"))
    assert bad_filter.value.status_code == 422 and "filter[status]" in bad_filter.value.details

    created = client.create_token()
    with pytest.raises(ApiError) as too_large:
        client.complete_token(created, "x" * (3 * 1024 * 1024))
    assert too_large.value.status_code == 413
    assert Waitpoint.objects.get(id=created.id).status == WaitpointStatus.WAITING

    with pytest.raises(requests.exceptions.InvalidJSONError):  # refused before sending
        client.complete_token(created, float("nan"))

    with pytest.raises(ApiError) as odd_id:
        client.retrieve_token("../../admin")
    assert odd_id.value.status_code == 404


def test_non_json_error_response_is_an_api_error(server_url, secret_key):
    # A path outside the API answers with Django's HTML 404, as a proxy's error page would.
    with pytest.raises(ApiError) as error, Client(f"{server_url}/elsewhere", secret_key) as lost:
        lost.list_tokens_page()
    assert error.value.status_code == 404
    assert error.value.message


def test_environments_are_isolated(client, other_client):
    mine = client.create_token(tags=["t"])
    with pytest.raises(ApiError) as hidden:
        other_client.retrieve_token(mine)
    assert hidden.value.status_code == 404
    with pytest.raises(ApiError) as refused:
        other_client.complete_token(mine, 1)
    assert refused.value.status_code == 404
    assert list(other_client.list_tokens(tags="t")) == []
    assert Waitpoint.objects.get(id=mine.id).status == WaitpointStatus.WAITING


def test_concurrent_creates_and_completions_over_http(server_url, secret_key):
    def create():
        with Client(server_url, secret_key) as own:
            return own.create_token(idempotency_key="together")

    created = run_concurrently([create] * 20)
    assert len({c.id for c in created}) == 1
    assert sorted(c.is_cached for c in created) == [False] + [True] * 19
    assert Waitpoint.objects.count() == 1

    def complete(n):
        def run():
            with Client(server_url, secret_key) as own:
                return own.complete_token(created[0], {"n": n})

        return run

    assert run_concurrently([complete(n) for n in range(10)]) == [True] * 10
    stored = Waitpoint.objects.get()
    assert AuditEvent.objects.filter(waitpoint=stored, action="completed").count() == 1
    assert stored.output["n"] in range(10)
