"""Issue 13, item 8: hostile input found by probing a running instance. Each answered 500 (or a
503 forever, or an existence oracle) before its fix."""

import base64

import pytest
from django.core.management import CommandError, call_command
from django.db import InterfaceError, OperationalError

from tests.helpers import TOKENS, path_of
from waitpoints.api.errors import is_database_unavailable
from waitpoints.environments.services import environment_get_or_create
from waitpoints.errors import InvalidInput
from waitpoints.models import Environment, Run

pytestmark = pytest.mark.django_db


# --- Callback URL: no 500 and no existence oracle -------------------------------------------


def test_a_non_ascii_callback_hash_is_401_for_an_existing_and_an_unknown_id(
    anonymous_api, create_token
):
    token = create_token()
    anonymous_api.raise_request_exception = False
    existing = anonymous_api.post(f"{TOKENS}/{token['id']}/callback/%C3%A9", {}, format="json")
    unknown = anonymous_api.post(f"{TOKENS}/waitpoint_nope/callback/%C3%A9", {}, format="json")
    assert (existing.status_code, unknown.status_code) == (401, 401)
    assert existing.json() == unknown.json()
    assert existing.json()["code"] == "invalid_callback_hash"
    # The right hash still works.
    assert anonymous_api.post(path_of(token["url"]), {}, format="json").status_code == 200


# --- Forged cursors ---------------------------------------------------------------------------


def _nested_cursor(depth: int = 100_000) -> str:
    raw = ("[" * depth + "]" * depth).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_forged_deeply_nested_cursor_is_422_in_the_api(api):
    api.raise_request_exception = False
    for name in ("page[after]", "page[before]"):
        response = api.get(TOKENS, {name: _nested_cursor()})
        assert response.status_code == 422, response.content[:200]
        assert response.json()["code"] == "invalid_input"
        assert name in response.json()["details"]


def test_a_forged_deeply_nested_cursor_is_ignored_by_the_dashboard(reviewer_client):
    reviewer_client.raise_request_exception = False
    response = reviewer_client.get("/dashboard/", {"after": _nested_cursor()})
    assert response.status_code == 200
    assert "no longer valid" in response.content.decode()


# --- NUL characters in dashboard ids ---------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/tokens/waitpoint_a%00b/",
        "/dashboard/runs/run_a%00b/",
        "/dashboard/tokens/%C3%A9t%C3%A9/",
    ],
)
def test_a_nul_in_a_dashboard_id_is_404(reviewer_client, path):
    reviewer_client.raise_request_exception = False
    assert reviewer_client.get(path).status_code == 404


def test_a_nul_in_a_dashboard_action_or_bulk_id_is_404(reviewer_client, create_token):
    reviewer_client.raise_request_exception = False
    decide = reviewer_client.post(
        "/dashboard/tokens/waitpoint_a%00b/decide/", {"choice": "approved"}
    )
    assert decide.status_code == 404
    token = create_token()
    bulk = reviewer_client.post(
        "/dashboard/bulk/", {"choice": "approved", "ids": [token["id"], "waitpoint_\x00x"]}
    )
    assert bulk.status_code == 404


# --- Environment slugs -------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["eu.prod", "eu/prod", "has space", "", "-dash", "x" * 65, "é"])
def test_invalid_environment_slugs_are_refused_everywhere_environments_are_created(slug):
    with pytest.raises(CommandError):
        call_command("create_api_key", "--environment", slug)
    with pytest.raises(InvalidInput):
        environment_get_or_create(slug=slug)
    assert not Environment.objects.filter(slug=slug).exists()


def test_valid_environment_slugs_still_work(capsys):
    call_command("create_api_key", "--environment", "eu-prod_2")
    assert capsys.readouterr().out.strip().startswith("wp_eu-prod_2_")


# --- notify addresses -------------------------------------------------------------------------


# Django's validator accepts control characters inside a quoted local part.
@pytest.mark.parametrize(
    "address",
    ['"a\x0bb"@example.com', '"a\x01"@example.com', '"x\\\x0cy"@example.com'],
)
def test_control_characters_in_notify_addresses_are_422(api, address):
    api.raise_request_exception = False
    response = api.post(TOKENS, {"notify": [address]}, format="json")
    assert response.status_code == 422, response.content
    assert [field for field in response.json()["details"] if field.startswith("notify")]


def test_control_characters_are_refused_by_the_service_too():
    from waitpoints.notifications.emails import clean_recipients

    with pytest.raises(InvalidInput):
        clean_recipients(["ok@example.com", "bad\x00@example.com"])
    assert clean_recipients(["  ok@example.com "]) == ["ok@example.com"]


# --- Long UTF-8 idempotency keys ---------------------------------------------------------------


@pytest.mark.parametrize("character", ["語", "😀"])
def test_a_run_idempotency_key_of_2048_wide_characters_is_stored_and_deduplicates(api, character):
    key = character * 2048  # 6 KB / 8 KB of UTF-8: more than a btree entry holds
    assert len(key.encode()) > 2700
    api.raise_request_exception = False
    body = {"payload": 1, "options": {"idempotencyKey": key}}
    first = api.post("/api/v1/tasks/test-echo/trigger", body, format="json")
    assert first.status_code == 200, first.content[:300]
    again = api.post("/api/v1/tasks/test-echo/trigger", body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Run.objects.filter(idempotency_key=key).count() == 1


def test_a_token_idempotency_key_of_2048_emoji_deduplicates(api):
    key = "😀" * 2048
    first = api.post(TOKENS, {"idempotencyKey": key}, format="json")
    again = api.post(TOKENS, {"idempotencyKey": key}, format="json")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["isCached"] is True


class _Cause(Exception):
    def __init__(self, sqlstate):
        super().__init__("x")
        self.sqlstate = sqlstate


def _operational(sqlstate):
    error = OperationalError("x")
    error.__cause__ = _Cause(sqlstate)
    return error


def test_only_connection_level_database_errors_are_unavailable():
    # index row size exceeds the btree maximum (54000), statement errors: never a 503.
    for sqlstate in ("54000", "22001", "42P01", "40P01", "XX000"):
        assert not is_database_unavailable(_operational(sqlstate)), sqlstate
    for sqlstate in ("08006", "08001", "57P01", "57P03", "53300"):
        assert is_database_unavailable(_operational(sqlstate)), sqlstate
    assert is_database_unavailable(OperationalError("connection refused"))  # no SQLSTATE
    assert is_database_unavailable(InterfaceError("connection already closed"))


def test_a_statement_the_database_refuses_is_a_500_not_a_503(api, monkeypatch):
    from waitpoints.api import tokens as token_views

    def refused(**kwargs):
        raise _operational("54000")

    monkeypatch.setattr(token_views, "token_create", refused)
    api.raise_request_exception = False
    response = api.post(TOKENS, {}, format="json")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert response.json()["code"] == "internal_error"
