"""Who is calling: a secret API key (`wp_<env>_…`) or a token's public access token (JWT)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import authentication, exceptions, permissions

from waitpoints.environments.selectors import api_key_for_secret
from waitpoints.environments.services import api_key_touch
from waitpoints.errors import ErrorCode
from waitpoints.models import ApiKey, Environment
from waitpoints.tokens import public_access


@dataclass(frozen=True)
class Principal:
    environment: Environment
    api_key: ApiKey | None = None  # None for a public access token
    scopes: list[str] = field(default_factory=list)
    is_authenticated: bool = True

    @property
    def is_secret_key(self) -> bool:
        return self.api_key is not None

    @property
    def actor(self) -> str:
        if self.api_key is not None:
            return self.api_key.actor_name
        return "public-access-token"


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.headers.get("Authorization")
        if header is None:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <secret key>'",
                code=ErrorCode.MALFORMED_AUTHORIZATION,
            )
        credential = parts[1]
        principal = (
            self._secret_key(credential)
            if credential.startswith("wp_")
            else self._public_token(credential)
        )
        return principal, principal

    def authenticate_header(self, request) -> str:
        return self.keyword

    def _secret_key(self, secret: str) -> Principal:
        api_key = api_key_for_secret(secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key", code=ErrorCode.INVALID_API_KEY)
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed(
                "API key has been revoked", code=ErrorCode.API_KEY_REVOKED
            )
        api_key_touch(api_key=api_key)
        return Principal(environment=api_key.environment, api_key=api_key)

    def _public_token(self, token: str) -> Principal:
        try:
            environment, scopes = public_access.verify(token)
        except public_access.InvalidPublicToken as exc:
            # DRF answers 401 with WWW-Authenticate, and stops re-authenticating, only for its
            # own AuthenticationFailed: the domain error travels as that, keeping its code.
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        return Principal(environment=environment, scopes=scopes)


def _not_authenticated() -> exceptions.NotAuthenticated:
    return exceptions.NotAuthenticated(
        "Missing Authorization header: 'Bearer <secret key>'",
        code=ErrorCode.AUTHENTICATION_REQUIRED,
    )


class HasSecretKey(permissions.BasePermission):
    message = "This endpoint needs a secret API key; public access tokens can only complete tokens"
    code = ErrorCode.PERMISSION_DENIED

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, Principal):
            raise _not_authenticated()
        return request.user.is_secret_key


class CanCompleteToken(HasSecretKey):
    message = "This public access token may not complete this waitpoint token"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, Principal):
            raise _not_authenticated()
        if request.user.is_secret_key:
            return True
        return public_access.complete_scope(view.kwargs["token_id"]) in request.user.scopes
