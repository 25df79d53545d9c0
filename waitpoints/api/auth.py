"""Who is calling: a secret API key (`wp_<env>_…`) or a token's public access token (JWT)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import authentication, exceptions, permissions

from waitpoints.environments.selectors import api_key_for_secret
from waitpoints.environments.services import api_key_touch
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
            return self.api_key.prefix
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
                "Malformed Authorization header: expected 'Bearer <secret key>'"
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
            raise exceptions.AuthenticationFailed("Invalid API key")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("API key has been revoked")
        api_key_touch(api_key=api_key)
        return Principal(environment=api_key.environment, api_key=api_key)

    def _public_token(self, token: str) -> Principal:
        try:
            environment, scopes = public_access.verify(token)
        except public_access.InvalidPublicToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return Principal(environment=environment, scopes=scopes)


class HasSecretKey(permissions.BasePermission):
    message = "This endpoint needs a secret API key; public access tokens can only complete tokens"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, Principal):
            raise exceptions.NotAuthenticated("Missing Authorization header: 'Bearer <secret key>'")
        return request.user.is_secret_key


class CanCompleteToken(HasSecretKey):
    message = "This public access token may not complete this waitpoint token"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, Principal):
            raise exceptions.NotAuthenticated("Missing Authorization header: 'Bearer <secret key>'")
        if request.user.is_secret_key:
            return True
        return public_access.complete_scope(view.kwargs["token_id"]) in request.user.scopes
