"""Hostile bodies on every endpoint that takes one: 413 over the limit, 400 for what is not
JSON, 400/422 for JSON PostgreSQL cannot hold or that breaks a rule — never a 500, and
nothing stored (no token, no completion, no audit row).
"""

import pytest

from tests.helpers import TOKENS, path_of, post_raw
from tests.runs import tasks_for_tests  # noqa: F401  (registers test-echo)
from waitpoints.models import AuditEvent, Run, Waitpoint, WaitpointStatus, WaitpointTag

pytestmark = pytest.mark.django_db

KiB, MiB = 1024, 1024 * 1024
LONG = "k" * 10_000


def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + closer * depth


# (body bytes, expected status) for the create endpoint; complete gets the same inside `data`.
HOSTILE_CREATE = {
    "over-64-KiB": (b'{"context": "' + b"x" * (64 * KiB) + b'"}', 413),
    "form-encoded": (b"timeout=1h&tags=a", 400),
    "xml": (b"<token><timeout>1h</timeout></token>", 400),
    "binary": (bytes(range(256)), 400),
    "utf-8-bom": (b'\xef\xbb\xbf{"timeout": "1h"}', 400),
    "invalid-utf-8": (b'{"title": "\xc3\x28"}', 400),
    "overlong-utf-8-slash": (b'{"title": "\xc0\xaf"}', 400),
    "nested-arrays-30k": (nested(30_000), 400),
    "nested-objects-9k": (b'{"context": ' + b'{"a": ' * 9_000 + b"1" + b"}" * 9_001, 400),
    "nested-context-300": (b'{"context": ' + nested(300) + b"}", 422),
    "number-5000-digits": (b'{"context": ' + b"9" * 5000 + b"}", 400),
    "number-overflow": (b'{"context": 1e400}', 422),
    "number-as-timeout": (b'{"timeout": 1e400}', 422),
    "huge-int-timeout": (b'{"timeout": "' + b"9" * 40 + b's"}', 422),
    "nan": (b'{"context": NaN}', 400),
    "nul-in-tag": (b'{"tags": ["ok", "n\\u0000l"]}', 422),
    "nul-in-key": (b'{"idempotencyKey": "\\u0000"}', 422),
    "nul-in-context-key": (b'{"context": {"a\\u0000": 1}}', 422),
    "lone-surrogate-tag": (b'{"tags": ["\\udfff"]}', 422),
    "lone-surrogate-key": (b'{"idempotencyKey": "\\ud800"}', 422),
    "lone-surrogate-context-key": (b'{"context": {"\\ud800": 1}}', 422),
    "lone-surrogate-context-value": (b'{"context": ["a\\udc00b"]}', 422),
    "10k-idempotency-key": (b'{"idempotencyKey": "' + LONG.encode() + b'"}', 422),
    "10k-tag": (b'{"tags": ["' + LONG.encode() + b'"]}', 422),
    "10k-title": (b'{"title": "' + LONG.encode() + b'"}', 422),
    "5k-tags": (b'{"tags": [' + b",".join(b'"t%d"' % n for n in range(5_000)) + b"]}", 422),
    "5k-notify": (b'{"notify": [' + b",".join([b'"a@b.co"'] * 5_000) + b"]}", 422),
    "tags-as-object": (b'{"tags": {"' + LONG.encode() + b'": 1}}', 422),
    "top-level-string": (b'"just a string"', 422),
    "top-level-number": (b"12", 422),
    "top-level-null": (b"null", 422),
}

HOSTILE_COMPLETE = {
    "over-3-MiB": (b'{"data": "' + b"x" * (3 * MiB) + b'"}', 413),
    "form-encoded": (b"data=1", 400),
    "invalid-utf-8": (b'{"data": "\xff"}', 400),
    "nested-arrays-100k": (nested(100_000), 400),
    "nested-data-300": (b'{"data": ' + nested(300) + b"}", 422),
    "number-5000-digits": (b'{"data": ' + b"1" * 5000 + b"}", 400),
    "number-overflow": (b'{"data": {"n": -1e400}}', 422),
    "nul-in-data": (b'{"data": "\\u0000"}', 422),
    "nul-in-data-key": (b'{"data": {"\\u0000": 0}}', 422),
    "lone-surrogate-data": (b'{"data": "\\ud800"}', 422),
    "lone-surrogate-data-key": (b'{"data": {"k\\udc00": 1}}', 422),
    "top-level-list": (b"[1, 2]", 422),
}


def snapshot():
    return (
        sorted(Waitpoint.objects.values_list("id", "status", "output")),
        WaitpointTag.objects.count(),
        AuditEvent.objects.count(),
        Run.objects.count(),
    )


def assert_json_error(response, expected: int):
    assert response.status_code == expected, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    if expected == 422:
        assert body["details"]


@pytest.mark.parametrize("case", HOSTILE_CREATE)
def test_hostile_create_body_is_refused_and_stores_nothing(api, create_token, case):
    create_token()  # something to leave untouched
    before = snapshot()
    body, expected = HOSTILE_CREATE[case]

    assert_json_error(post_raw(api, TOKENS, body), expected)
    assert snapshot() == before


@pytest.mark.parametrize("case", HOSTILE_COMPLETE)
def test_hostile_complete_body_is_refused_and_changes_nothing(api, create_token, case):
    token = create_token()
    before = snapshot()
    body, expected = HOSTILE_COMPLETE[case]

    assert_json_error(post_raw(api, f"{TOKENS}/{token['id']}/complete", body), expected)
    assert snapshot() == before
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


@pytest.mark.parametrize("case", ["over-3-MiB", "nul-in-data", "lone-surrogate-data-key"])
def test_hostile_callback_body_is_refused_and_changes_nothing(anonymous_api, create_token, case):
    """The callback turns a non-JSON body into `{}`, but never stores what jsonb cannot hold."""
    token = create_token()
    before = snapshot()
    body, expected = HOSTILE_COMPLETE[case]

    assert_json_error(post_raw(anonymous_api, path_of(token["url"]), body), expected)
    assert snapshot() == before


HOSTILE_TRIGGER = {
    "over-3-MiB": (b'{"payload": "' + b"x" * (3 * MiB) + b'"}', 413),
    "not-json": (b"payload=1", 400),
    "invalid-utf-8": (b'{"payload": "\xfe"}', 400),
    "nested-arrays-100k": (nested(100_000), 400),
    "nested-payload-300": (b'{"payload": ' + nested(300) + b"}", 422),
    "nul-in-payload": (b'{"payload": {"\\u0000": 1}}', 422),
    "lone-surrogate-payload": (b'{"payload": "\\udbff"}', 422),
    "number-overflow": (b'{"payload": 1e400}', 422),
    "nul-in-key": (b'{"options": {"idempotencyKey": "a\\u0000"}}', 422),
    "10k-key": (b'{"options": {"idempotencyKey": "' + LONG.encode() + b'"}}', 422),
    "number-as-key": (b'{"options": {"idempotencyKey": 7}}', 422),
    "10k-tag": (b'{"options": {"tags": ["' + LONG.encode() + b'"]}}', 422),
    "lone-surrogate-tag": (b'{"options": {"tags": "\\ud800"}}', 422),
    "options-not-object": (b'{"options": [1]}', 422),
    "top-level-list": (b"[]", 422),
}


@pytest.mark.parametrize("case", HOSTILE_TRIGGER)
def test_hostile_trigger_body_is_refused_and_starts_nothing(api, case):
    before = snapshot()
    body, expected = HOSTILE_TRIGGER[case]

    assert_json_error(post_raw(api, "/api/v1/tasks/test-echo/trigger", body), expected)
    assert snapshot() == before


def test_a_lying_content_length_cannot_sneak_a_big_body_in(api):
    """The declared length is checked first; a huge declared length is 413 before reading."""
    response = post_raw(api, TOKENS, b"{}", CONTENT_LENGTH=str(10**12))
    assert_json_error(response, 413)
    assert not Waitpoint.objects.exists()


def test_10k_character_ids_and_query_values_are_refused(api, create_token):
    create_token(tags=["a"])
    before = snapshot()
    api.raise_request_exception = False
    responses = {
        "retrieve": api.get(f"{TOKENS}/{LONG}"),
        "complete": api.post(f"{TOKENS}/{LONG}/complete", {"data": 1}, format="json"),
        "callback": api.post(f"{TOKENS}/{LONG}/callback/{LONG}", {}, format="json"),
        "list-key": api.get(TOKENS, {"filter[idempotencyKey]": LONG}),
        "list-tags": api.get(TOKENS, {"filter[tags]": LONG}),
        "list-cursor": api.get(TOKENS, {"page[after]": LONG}),
        "list-period": api.get(TOKENS, {"filter[createdAt][period]": "9" * 10_000 + "s"}),
        "list-from": api.get(TOKENS, {"filter[createdAt][from]": "9" * 10_000}),
    }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "retrieve": 404,
        "complete": 404,
        "callback": 404,
        "list-key": 422,
        "list-tags": 422,
        "list-cursor": 422,
        "list-period": 422,
        "list-from": 422,
    }
    for response in responses.values():
        assert response.json()["error"]
    assert snapshot() == before


def test_a_chunked_body_without_content_length_is_411_not_an_empty_create(api):
    """Django reads Content-Length bytes only: a chunked body would arrive empty and create a
    token with defaults. It is refused instead."""
    response = api.generic(
        "POST", TOKENS, b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411
    assert response.json() == {
        "error": "Request bodies must be sent with Content-Length, not chunked",
        "code": "length_required",
    }
    assert not Waitpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_chunked_request_through_gunicorn_is_411_and_stores_nothing(secret_key, tmp_path):
    import requests

    from tests.processes import start_gunicorn

    server, base_url = start_gunicorn(tmp_path)
    try:

        def chunks():  # a generator body: requests sends it with Transfer-Encoding: chunked
            yield b'{"title": "sent in chunks", '
            yield b'"tags": ["chunked"]}'

        response = requests.post(
            f"{base_url}{TOKENS}",
            data=chunks(),
            headers={"Authorization": f"Bearer {secret_key}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 411, response.text[:300]
        assert "Content-Length" in response.json()["error"]
        assert not Waitpoint.objects.exists()
        # The same body with a length is created as sent.
        response = requests.post(
            f"{base_url}{TOKENS}",
            data=b"".join(chunks()),
            headers={"Authorization": f"Bearer {secret_key}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200, response.text[:300]
        assert Waitpoint.objects.get().title == "sent in chunks"
    finally:
        server.stop()
