"""Public access tokens: short-lived JWTs that may complete exactly one waitpoint token."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import jwt
from django.utils import timezone

from waitpoints.core.validation import ENVIRONMENT_SLUG
from waitpoints.errors import ErrorCode, WaitpointsError
from waitpoints.models import Environment, Waitpoint

ALGORITHM = "HS256"
LIFETIME = timedelta(hours=24)


class InvalidPublicToken(WaitpointsError):
    code = ErrorCode.INVALID_PUBLIC_ACCESS_TOKEN


class PublicTokenExpired(InvalidPublicToken):
    code = ErrorCode.PUBLIC_ACCESS_TOKEN_EXPIRED


def _signing_key(environment: Environment, secret: str | None = None) -> bytes:
    # Derived, so a JWT key can never double as a callback hash and vice versa.
    secret = environment.signing_secret if secret is None else secret
    return hmac.new(secret.encode(), b"jwt", hashlib.sha256).digest()


def _decode(token: str, environment: Environment) -> dict:
    """The claims, checked with the current secret or, during its grace period after a
    rotation, the previous one."""
    secrets = environment.verifying_secrets()
    for index, secret in enumerate(secrets):
        try:
            return jwt.decode(
                token,
                _signing_key(environment, secret),
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub"]},
            )
        except jwt.InvalidSignatureError:
            if index == len(secrets) - 1:
                raise
    raise jwt.InvalidSignatureError("no signing secret")


def complete_scope(waitpoint_id: str) -> str:
    return f"write:waitpoints:{waitpoint_id}"


def issue(waitpoint: Waitpoint) -> str:
    now = timezone.now()
    claims = {
        "sub": waitpoint.environment.slug,
        "scopes": [complete_scope(waitpoint.id)],
        "iat": int(now.timestamp()),
        "exp": int((now + LIFETIME).timestamp()),
    }
    return jwt.encode(claims, _signing_key(waitpoint.environment), algorithm=ALGORITHM)


def verify(token: str) -> tuple[Environment, list[str]]:
    """The environment and scopes of a valid token. Raises InvalidPublicToken (or its
    subclass PublicTokenExpired)."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        slug = unverified.get("sub")
        # Unverified input picks the key: only a plausible slug may reach the database.
        if not isinstance(slug, str) or not ENVIRONMENT_SLUG.fullmatch(slug):
            raise InvalidPublicToken("Invalid public access token")
        environment = Environment.objects.filter(slug=slug).first()
        if environment is None:
            raise InvalidPublicToken("Invalid public access token")
        claims = _decode(token, environment)
    except jwt.ExpiredSignatureError:
        raise PublicTokenExpired("Public access token has expired") from None
    except jwt.PyJWTError:
        raise InvalidPublicToken("Invalid public access token") from None
    scopes = claims.get("scopes")
    if not isinstance(scopes, list):
        raise InvalidPublicToken("Invalid public access token")
    return environment, [str(scope) for scope in scopes]
