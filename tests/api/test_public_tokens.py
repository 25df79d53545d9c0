"""Public access tokens (JWT): complete their own token only, nothing else."""

from datetime import timedelta

import jwt
import pytest

from tests.helpers import TOKENS
from waitpoints.models import Waitpoint, WaitpointStatus
from waitpoints.tokens import public_access
from waitpoints.tokens.callbacks import callback_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(anonymous_api):
    def with_token(token: str):
        anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return anonymous_api

    return with_token


def test_claims_follow_the_design(create_token, environment):
    token = create_token()
    claims = jwt.decode(token["publicAccessToken"], options={"verify_signature": False})
    assert claims["sub"] == environment.slug
    assert claims["scopes"] == [f"write:waitpoints:{token['id']}"]
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert jwt.get_unverified_header(token["publicAccessToken"])["alg"] == "HS256"


def test_completes_its_own_token(create_token, bearer):
    token = create_token()
    response = bearer(token["publicAccessToken"]).post(
        f"{TOKENS}/{token['id']}/complete", {"data": {"approved": True}}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"success": True}
    stored = Waitpoint.objects.get(id=token["id"])
    assert (stored.status, stored.output) == (WaitpointStatus.COMPLETED, {"approved": True})
    assert (stored.completed_via, stored.completed_by) == ("api", "public-access-token")


def test_cannot_complete_another_token(create_token, bearer):
    mine, other = create_token(), create_token()
    response = bearer(mine["publicAccessToken"]).post(
        f"{TOKENS}/{other['id']}/complete", {"data": 1}, format="json"
    )
    assert response.status_code == 403
    assert "may not complete this waitpoint token" in response.json()["error"]
    assert Waitpoint.objects.get(id=other["id"]).status == WaitpointStatus.WAITING


def test_cannot_complete_another_environments_token(create_token, other_api, bearer):
    mine = create_token()
    theirs = create_token(other_api)
    response = bearer(mine["publicAccessToken"]).post(
        f"{TOKENS}/{theirs['id']}/complete", {"data": 1}, format="json"
    )
    assert response.status_code == 403
    assert Waitpoint.objects.get(id=theirs["id"]).status == WaitpointStatus.WAITING


def test_expired_token_is_401(create_token, bearer, environment, monkeypatch):
    token = create_token()
    monkeypatch.setattr(public_access, "LIFETIME", timedelta(seconds=-5))
    expired = public_access.issue(Waitpoint.objects.get(id=token["id"]))
    response = bearer(expired).post(f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "error": "Public access token has expired",
        "code": "public_access_token_expired",
    }
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


@pytest.mark.parametrize("endpoint", ["create", "list", "retrieve"])
def test_public_token_on_other_endpoints_is_403(create_token, bearer, endpoint):
    token = create_token()
    client = bearer(token["publicAccessToken"])
    response = {
        "create": lambda: client.post(TOKENS, {}, format="json"),
        "list": lambda: client.get(TOKENS),
        "retrieve": lambda: client.get(f"{TOKENS}/{token['id']}"),
    }[endpoint]()
    assert response.status_code == 403
    assert "public access tokens can only complete tokens" in response.json()["error"]
    assert Waitpoint.objects.count() == 1


def forge(claims: dict, key: bytes | str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def test_forged_tokens_are_401(create_token, bearer, environment, other_environment):
    token = create_token()
    waitpoint = Waitpoint.objects.get(id=token["id"])
    good = jwt.decode(token["publicAccessToken"], options={"verify_signature": False})
    other_key = public_access._signing_key(other_environment)
    forged = [
        forge(good, "a-guessed-secret-that-is-long-enough-for-hs256"),
        # Signed by another environment, claiming this one.
        forge(good, other_key),
        # The callback hash's secret is not the JWT key.
        forge(good, waitpoint.environment.signing_secret),
        jwt.encode(good, None, algorithm="none"),
        forge({**good, "sub": "prod\u0000"}, other_key),
        forge({**good, "sub": {"slug": "prod"}}, other_key),
        forge({"scopes": good["scopes"], "exp": good["exp"]}, other_key),
        token["publicAccessToken"][:-3] + "abc",
    ]
    for credential in forged:
        response = bearer(credential).post(
            f"{TOKENS}/{token['id']}/complete", {"data": 1}, format="json"
        )
        assert response.status_code == 401, (credential, response.content)
        assert response.json() == {
            "error": "Invalid public access token",
            "code": "invalid_public_access_token",
        }
    assert Waitpoint.objects.get(id=token["id"]).status == WaitpointStatus.WAITING


def test_token_without_scopes_is_401_and_wrong_scope_is_403(create_token, bearer, environment):
    token = create_token()
    key = public_access._signing_key(environment)
    base = jwt.decode(token["publicAccessToken"], options={"verify_signature": False})
    no_scopes = forge({k: v for k, v in base.items() if k != "scopes"}, key)
    assert bearer(no_scopes).post(f"{TOKENS}/{token['id']}/complete", {}).status_code == 401
    wrong = forge({**base, "scopes": [f"read:waitpoints:{token['id']}"]}, key)
    assert bearer(wrong).post(f"{TOKENS}/{token['id']}/complete", {}).status_code == 403


def test_public_token_survives_completion_as_a_no_op(create_token, bearer, api):
    token = create_token()
    api.post(f"{TOKENS}/{token['id']}/complete", {"data": "first"}, format="json")
    response = bearer(token["publicAccessToken"]).post(
        f"{TOKENS}/{token['id']}/complete", {"data": "second"}, format="json"
    )
    assert response.json() == {"success": True}
    assert Waitpoint.objects.get(id=token["id"]).output == "first"


def test_cached_create_returns_a_working_public_token(create_token, bearer):
    create_token(idempotencyKey="k")
    cached = create_token(idempotencyKey="k")
    response = bearer(cached["publicAccessToken"]).post(
        f"{TOKENS}/{cached['id']}/complete", {"data": 1}, format="json"
    )
    assert response.status_code == 200
    assert callback_url(Waitpoint.objects.get(id=cached["id"])) == cached["url"]
