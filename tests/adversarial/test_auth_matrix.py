"""Auth matrix: every endpoint x every wrong credential -> the documented 401/403/404, never data.

Each cell also proves nothing changed: the target token is still WAITING with no output, and no
token was created in the target environment.
"""

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.helpers import TOKENS, path_of
from tests.runs import tasks_for_tests  # noqa: F401  (registers test-echo)
from waitpoints.environments.services import api_key_create, api_key_revoke
from waitpoints.models import AuditEvent, Run, RunStatus, Waitpoint, WaitpointStatus
from waitpoints.runs.services.trigger import run_trigger
from waitpoints.tokens import public_access
from waitpoints.tokens.callbacks import callback_hash, callback_url
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create

pytestmark = pytest.mark.django_db

RUNS_API = "/api/v1"
ALLOWED_TRIGGER = ("other-environment-key", "trigger")
SECRET_TITLE = "Payroll run — confidential"
SECRET_OUTPUT = {"approvedAmount": "TOP-SECRET-4711"}


class World:
    """Our environment's tokens, and one token of another environment."""

    def __init__(self, environment, other_environment):
        self.environment = environment
        self.other_environment = other_environment
        self.target = token_create(
            environment=environment, title=SECRET_TITLE, tags=["payroll"]
        ).waitpoint
        self.finished = token_create(environment=environment, title=SECRET_TITLE).waitpoint
        token_complete(
            environment=environment,
            token_id=self.finished.id,
            data=SECRET_OUTPUT,
            via="api",
            actor="setup",
        )
        self.sibling = token_create(environment=environment).waitpoint
        self.foreign = token_create(environment=other_environment).waitpoint
        self.run = run_trigger(
            environment=environment, task_id="test-echo", payload={"secret": SECRET_TITLE}
        ).run
        self.runs_before = Run.objects.count()
        self.created_before = Waitpoint.objects.filter(environment=environment).count()
        self.audit_before = AuditEvent.objects.count()

    def secrets(self) -> list[str]:
        return [
            SECRET_TITLE,
            SECRET_OUTPUT["approvedAmount"],
            "payroll",
            callback_hash(self.target),
            callback_hash(self.finished),
        ]


def _expired_public_token(waitpoint: Waitpoint) -> str:
    past = timezone.now() - timedelta(hours=1)
    claims = {
        "sub": waitpoint.environment.slug,
        "scopes": [public_access.complete_scope(waitpoint.id)],
        "iat": int((past - timedelta(hours=24)).timestamp()),
        "exp": int(past.timestamp()),
    }
    signing_key = public_access._signing_key(waitpoint.environment)
    return jwt.encode(claims, signing_key, algorithm=public_access.ALGORITHM)


def _revoked_key(environment) -> str:
    issued = api_key_create(environment=environment)
    api_key_revoke(api_key=issued.api_key)
    return f"Bearer {issued.secret}"


# Each credential: world -> the Authorization header (None: no header at all).
CREDENTIALS = {
    "none": lambda w: None,
    "malformed": lambda w: "Token wp_prod_abc",
    "bearer-without-value": lambda w: "Bearer",
    "unknown-key": lambda w: "Bearer wp_prod_" + "x" * 43,
    "revoked-key": lambda w: _revoked_key(w.environment),
    "other-environment-key": lambda w: (
        "Bearer " + api_key_create(environment=w.other_environment).secret
    ),
    "expired-public-token": lambda w: f"Bearer {_expired_public_token(w.target)}",
    "public-token-of-another-token": lambda w: f"Bearer {public_access.issue(w.sibling)}",
    "public-token-of-this-token": lambda w: f"Bearer {public_access.issue(w.target)}",
}

# Each endpoint: (client, world) -> response. "retrieve" reads the finished token (it has data).
ENDPOINTS = {
    "list": lambda c, w: c.get(TOKENS),
    "create": lambda c, w: c.post(TOKENS, {"title": "intruder"}, format="json"),
    "retrieve": lambda c, w: c.get(f"{TOKENS}/{w.finished.id}"),
    "complete": lambda c, w: c.post(
        f"{TOKENS}/{w.target.id}/complete", {"data": "intruder"}, format="json"
    ),
    "trigger": lambda c, w: c.post(f"{RUNS_API}/tasks/test-echo/trigger", {}, format="json"),
    "run-retrieve": lambda c, w: c.get(f"{RUNS_API}/runs/{w.run.id}"),
    "run-cancel": lambda c, w: c.post(f"{RUNS_API}/runs/{w.run.id}/cancel"),
}

UNAUTHENTICATED = dict.fromkeys(ENDPOINTS, 401)
EXPECTED = {
    "none": UNAUTHENTICATED,
    "malformed": UNAUTHENTICATED,
    "bearer-without-value": UNAUTHENTICATED,
    "unknown-key": UNAUTHENTICATED,
    "revoked-key": UNAUTHENTICATED,
    "expired-public-token": UNAUTHENTICATED,
    # A valid key of another environment works there, and sees nothing of ours: ids are 404.
    "other-environment-key": {
        "list": 200,
        "create": 200,
        "retrieve": 404,
        "complete": 404,
        "trigger": 200,
        "run-retrieve": 404,
        "run-cancel": 404,
    },
    "public-token-of-another-token": dict.fromkeys(ENDPOINTS, 403),
    # A public token may complete its own token, and do nothing else.
    "public-token-of-this-token": {**dict.fromkeys(ENDPOINTS, 403), "complete": 200},
}


@pytest.fixture
def world(environment, other_environment):
    return World(environment, other_environment)


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("credential", CREDENTIALS)
def test_wrong_credentials_get_the_documented_status_and_no_data(world, credential, endpoint):
    response = ENDPOINTS[endpoint](client_with(CREDENTIALS[credential](world)), world)
    expected = EXPECTED[credential][endpoint]

    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json"
    body = response.content.decode()
    for secret in world.secrets():
        assert secret not in body
    if expected >= 400:
        assert set(response.json()) == {"error", "code"}
        if expected == 401:
            assert response["WWW-Authenticate"] == "Bearer"
    if endpoint == "list" and expected == 200:
        assert [item["id"] for item in response.json()["data"]] == [world.foreign.id]
    # Nothing of ours changed, unless this cell is the one allowed completion.
    target = Waitpoint.objects.get(id=world.target.id)
    if (credential, endpoint) == ("public-token-of-this-token", "complete"):
        assert (target.status, target.output) == (WaitpointStatus.COMPLETED, "intruder")
    else:
        assert (target.status, target.output) == (WaitpointStatus.WAITING, None)
        assert AuditEvent.objects.count() == world.audit_before
    ours = Waitpoint.objects.filter(environment=world.environment).count()
    assert ours == world.created_before
    assert Run.objects.get(id=world.run.id).status == RunStatus.QUEUED
    runs_now = Run.objects.count()
    assert runs_now == world.runs_before + (1 if (credential, endpoint) == ALLOWED_TRIGGER else 0)
    if (credential, endpoint) == ALLOWED_TRIGGER:  # it ran in the other environment
        assert Run.objects.exclude(environment=world.environment).count() == 1


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_callback_needs_the_right_hash_whatever_credentials_come_with_it(world, credential):
    client = client_with(CREDENTIALS[credential](world))
    target_path = path_of(callback_url(world.target))
    wrong_hashes = [
        # Another token's valid hash, a hash from another environment, a truncated hash.
        path_of(callback_url(world.sibling)).rsplit("/", 1)[1],
        path_of(callback_url(world.foreign)).rsplit("/", 1)[1],
        target_path.rsplit("/", 1)[1][:-1],
        "0" * 64,
    ]
    for wrong in wrong_hashes:
        response = client.post(
            f"{TOKENS}/{world.target.id}/callback/{wrong}", {"x": 1}, format="json"
        )
        assert response.status_code == 401, (wrong, response.content)
        assert response.json() == {
            "error": "Invalid callback URL hash",
            "code": "invalid_callback_hash",
        }
    # An unknown id answers exactly like a wrong hash.
    unknown = client.post(f"{TOKENS}/waitpoint_unknown/callback/{'0' * 64}", {}, format="json")
    assert (unknown.status_code, unknown.json()) == (
        401,
        {"error": "Invalid callback URL hash", "code": "invalid_callback_hash"},
    )
    target = Waitpoint.objects.get(id=world.target.id)
    assert (target.status, target.output) == (WaitpointStatus.WAITING, None)
    assert AuditEvent.objects.count() == world.audit_before
