"""Creating environments and rotating their signing secrets, issuing and revoking API keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from waitpoints.core.ids import hash_secret, new_signing_secret
from waitpoints.core.validation import clean_environment_slug
from waitpoints.models import ApiKey, Environment

# How long callback URLs and public access tokens signed with a rotated-out secret still work.
DEFAULT_ROTATION_GRACE = timedelta(days=7)


def environment_get_or_create(*, slug: str, name: str | None = None) -> Environment:
    """Every way of creating an environment comes here: the slug rule is checked once."""
    clean_environment_slug(slug)
    environment, _ = Environment.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return environment


def environment_rotate_signing_secret(
    *, environment: Environment, grace: timedelta = DEFAULT_ROTATION_GRACE
) -> Environment:
    """A new signing secret; the current one keeps verifying (never signing) for `grace`.

    New callback URLs and public access tokens use the new secret at once. A second rotation
    within the grace period drops the oldest secret immediately. `grace=0` cuts it off now.
    """
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    with transaction.atomic():
        environment = Environment.objects.select_for_update().get(pk=environment.pk)
        environment.previous_signing_secret = environment.signing_secret
        environment.previous_signing_secret_expires_at = timezone.now() + grace
        environment.signing_secret = new_signing_secret()
        environment.save(
            update_fields=[
                "signing_secret",
                "previous_signing_secret",
                "previous_signing_secret_expires_at",
            ]
        )
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
