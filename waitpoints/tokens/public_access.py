"""Public access tokens: short-lived JWTs that may complete exactly one waitpoint token."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

import jwt
from django.utils import timezone

from waitpoints.errors import ErrorCode, WaitpointsError
from waitpoints.models import Environment, Waitpoint

ALGORITHM = "HS256"
LIFETIME = timedelta(hours=24)
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


class InvalidPublicToken(WaitpointsError):
    code = ErrorCode.INVALID_PUBLIC_ACCESS_TOKEN


class PublicTokenExpired(InvalidPublicToken):
    code = ErrorCode.PUBLIC_ACCESS_TOKEN_EXPIRED


def _signing_key(environment: Environment) -> bytes:
    # Derived, so a JWT key can never double as a callback hash and vice versa.
    return hmac.new(environment.signing_secret.encode(), b"jwt", hashlib.sha256).digest()


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
        if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
            raise InvalidPublicToken("Invalid public access token")
        environment = Environment.objects.filter(slug=slug).first()
        if environment is None:
            raise InvalidPublicToken("Invalid public access token")
        claims = jwt.decode(
            token,
            _signing_key(environment),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise PublicTokenExpired("Public access token has expired") from None
    except jwt.PyJWTError:
        raise InvalidPublicToken("Invalid public access token") from None
    scopes = claims.get("scopes")
    if not isinstance(scopes, list):
        raise InvalidPublicToken("Invalid public access token")
    return environment, [str(scope) for scope in scopes]
