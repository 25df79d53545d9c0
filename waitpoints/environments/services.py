"""Creating environments, issuing and revoking API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from waitpoints.core.ids import hash_secret
from waitpoints.models import ApiKey, Environment


def environment_get_or_create(*, slug: str, name: str | None = None) -> Environment:
    environment, _ = Environment.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return environment


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown once; only its hash is stored


def api_key_create(*, environment: Environment, name: str = "") -> IssuedApiKey:
    secret = f"wp_{environment.slug}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        environment=environment,
        name=name,
        prefix=secret[: len(f"wp_{environment.slug}_") + 6],
        secret_hash=hash_secret(secret),
    )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, so authentication is not a write per request."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
