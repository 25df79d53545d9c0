"""Emailed approval links and dashboard actions under hostile use.

Mail scanners and link previewers (GET/HEAD/OPTIONS, any user agent, prefetch hints) never
decide; tampered, forged, expired and replayed links decide nothing; dashboard actions without
a login, a CSRF token or the POST method change nothing; hostile JSON in the dashboard's form
is refused, never a 500. (tests/dashboard covers the happy paths and the viewer's 403s.)
"""

import base64
import json
import zlib
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from tests.helpers import assert_unchanged
from waitpoints.models import AuditEvent, Waitpoint, WaitpointStatus
from waitpoints.notifications import emails
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db

SCANNER_AGENTS = [
    "",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mimecast URL Protect",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "curl/8.5.0",
]


@pytest.fixture
def token(environment):
    return token_create(environment=environment, timeout="2h", title="Refund").waitpoint


def link(token, decision="approve", recipient="ann@example.com") -> str:
    choice = emails.LEGACY_DECISIONS.get(decision, decision)
    signed = emails.sign_approval_link(waitpoint=token, choice=choice, recipient=recipient)
    return f"/approve/{signed}/"


def confirm_client(path: str) -> tuple[Client, str]:
    """A browser that opened the link: it has the CSRF cookie the confirm form needs."""
    client = Client(enforce_csrf_checks=True)
    client.get(path)
    return client, client.cookies["csrftoken"].value


# --- Scanners never decide ------------------------------------------------------------------------


@pytest.mark.parametrize("agent", SCANNER_AGENTS)
def test_scanners_opening_links_any_way_decide_nothing(token, agent):
    scanner = Client(HTTP_USER_AGENT=agent)
    for decision in ("approve", "reject"):
        path = link(token, decision)
        for _ in range(3):
            assert scanner.get(path).status_code == 200
            assert scanner.head(path).status_code == 200
            assert (
                scanner.get(path, HTTP_PURPOSE="prefetch", HTTP_SEC_PURPOSE="prefetch").status_code
                == 200
            )
            # Query strings that look like a decision are not one.
            query = {
                "comment": "x",
                "decision": decision,
                "confirm": "1",
                "csrfmiddlewaretoken": "x",
            }
            assert scanner.get(path, query).status_code == 200
            assert scanner.options(path).status_code == 405
        # A scanner that does submit, without the page's CSRF cookie, is refused.
        assert Client(enforce_csrf_checks=True, HTTP_USER_AGENT=agent).post(path).status_code == 403
    assert_unchanged(token)


# --- Tampered, forged, expired, replayed -----------------------------------------------------------


def _reencode(payload: dict) -> str:
    data = base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).rstrip(b"=")
    return "." + data.decode()


def test_tampered_and_forged_links_decide_nothing(token, environment, settings):
    genuine = link(token, "reject").split("/")[2]
    payload = signing.loads(genuine, salt=emails.APPROVAL_LINK_SALT)
    other = token_create(environment=environment, timeout="2h").waitpoint
    signature = genuine.rsplit(":", 1)[1]
    forged = [
        # The payload edited (approve instead of reject, another token, another recipient,
        # a later expiry) with the genuine signature kept.
        _reencode({**payload, "d": "approve"}) + genuine[genuine.index(":") :],
        _reencode({**payload, "t": other.id}) + genuine[genuine.index(":") :],
        _reencode({**payload, "r": "eve@example.com"}) + genuine[genuine.index(":") :],
        genuine.rsplit(":", 1)[0] + ":" + signature[::-1],
        # Signed with the right salt but another secret key.
        signing.dumps(
            {**payload, "d": "approve"},
            key="guessed",
            salt=emails.APPROVAL_LINK_SALT,
            compress=True,
        ),
        # Signed by this service for another purpose.
        signing.dumps({**payload, "d": "approve"}, compress=True),
        # Not even a link.
        "x" * 10_000,
        "%00",
    ]
    for signed in forged:
        for response in (Client().get(f"/approve/{signed}/"), Client().post(f"/approve/{signed}/")):
            assert response.status_code in (400, 404), (signed[:40], response.status_code)
            assert b"Approved" not in response.content
    assert_unchanged(token)
    assert_unchanged(other)


def test_a_link_whose_token_deadline_passed_cannot_beat_the_timeout(token):
    """The page was opened in time; the click comes after the deadline, before the sweeper."""
    path = link(token)
    client, csrf = confirm_client(path)
    Waitpoint.objects.filter(id=token.id).update(timeout_at=timezone.now() - timedelta(seconds=1))

    response = client.post(path, {"csrfmiddlewaretoken": csrf})

    assert response.status_code in (200, 410)
    assert b"Approved by" not in response.content
    # Read as timed out (the sweeper stores it when it comes round), never as approved.
    stored = Waitpoint.objects.get(id=token.id)
    assert stored.current_status == WaitpointStatus.TIMED_OUT and stored.output is None
    assert not AuditEvent.objects.filter(waitpoint=token, action="completed").exists()
    waitpoints_sweep_due()
    assert Waitpoint.objects.get(id=token.id).status == WaitpointStatus.TIMED_OUT


def test_an_expired_link_decides_nothing_even_with_a_valid_csrf_token(token):
    token.timeout_at = timezone.now() - timedelta(seconds=1)
    expired = link(token)  # signed with a deadline already past
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")  # any page with a form hands out the CSRF cookie
    csrf = client.cookies["csrftoken"].value

    response = client.post(expired, {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 410 and b"This link has expired" in response.content
    assert_unchanged(token)


def test_replayed_links_decide_once(token):
    approve, reject = link(token, "approve"), link(token, "reject", "bo@example.com")
    client, csrf = confirm_client(approve)
    assert client.post(approve, {"csrfmiddlewaretoken": csrf}).status_code == 200

    for path in (approve, reject, approve, reject):
        replay, replay_csrf = confirm_client(path)
        response = replay.post(path, {"csrfmiddlewaretoken": replay_csrf, "comment": "again"})
        assert response.status_code == 200 and b"Already decided" in response.content

    stored = Waitpoint.objects.get(id=token.id)
    assert stored.output["status"] == "approved" and stored.completed_by == "ann@example.com"
    assert AuditEvent.objects.filter(waitpoint=token, action="completed").count() == 1


# --- Dashboard actions -----------------------------------------------------------------------------

ACTIONS = [
    ("decide/", {"choice": "approved"}),
    ("complete/", {"data": '{"approved": true}'}),
    ("timeout/", {}),
]


def action_path(token, suffix: str) -> str:
    return f"/dashboard/tokens/{token.id}/{suffix}"


@pytest.mark.parametrize(("suffix", "data"), ACTIONS)
def test_dashboard_actions_without_csrf_change_nothing(reviewer, token, suffix, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(action_path(token, suffix), data).status_code == 403
    assert (
        client.post(action_path(token, suffix), data, HTTP_X_CSRFTOKEN="forged" * 6).status_code
        == 403
    )
    assert_unchanged(token)


def test_bulk_without_csrf_changes_nothing(reviewer, token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reviewer)
    response = client.post("/dashboard/bulk/", {"choice": "approved", "ids": [token.id]})
    assert response.status_code == 403
    assert_unchanged(token)


@pytest.mark.parametrize(("suffix", "data"), [*ACTIONS, ("bulk", {})])
def test_dashboard_actions_anonymous_or_by_get_change_nothing(reviewer_client, token, suffix, data):
    path = "/dashboard/bulk/" if suffix == "bulk" else action_path(token, suffix)
    if suffix == "bulk":
        data = {"choice": "approved", "ids": [token.id]}
    anonymous = Client().post(path, data)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    # A reviewer's browser following a link (GET/HEAD) never acts: only POST does.
    for method in ("get", "head"):
        assert getattr(reviewer_client, method)(path, data).status_code == 405
    assert_unchanged(token)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        '{"a": ' * 3000 + "1" + "}" * 3000,
        '"\\ud800"',
        '{"k\\udc00": 1}',
        '"\\u0000"',
        "1e999",
        "NaN",
    ],
    ids=[
        "deep-arrays",
        "deep-objects",
        "lone-surrogate",
        "surrogate-key",
        "nul",
        "overflow",
        "nan",
    ],
)
def test_dashboard_json_completion_refuses_hostile_json(reviewer_client, token, text):
    reviewer_client.raise_request_exception = False
    response = reviewer_client.post(action_path(token, "complete/"), {"data": text})
    assert response.status_code == 422, response.content[:300]
    assert_unchanged(token)
