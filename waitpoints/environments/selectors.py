"""Reads of environments and API keys."""

from __future__ import annotations

from django.db import connection

from waitpoints.core.ids import hash_secret
from waitpoints.environments import sql
from waitpoints.models import ApiKey


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The key (with its environment) whose hash matches, revoked or not."""
    secret_hash = hash_secret(secret)
    if connection.vendor == "postgresql":
        return sql.api_key_with_environment(secret_hash)
    return ApiKey.objects.select_related("environment").filter(secret_hash=secret_hash).first()
