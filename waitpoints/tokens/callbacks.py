"""Callback URLs: a token's completion URL, its HMAC hash the only credential it needs."""

from __future__ import annotations

import hashlib
import hmac

from django.urls import reverse

from waitpoints.conf import waitpoints_settings
from waitpoints.models import Waitpoint


def _hash(secret: str, waitpoint_id: str) -> str:
    return hmac.new(
        secret.encode(), f"callback:{waitpoint_id}".encode(), hashlib.sha256
    ).hexdigest()


def callback_hash(waitpoint: Waitpoint) -> str:
    return _hash(waitpoint.environment.signing_secret, waitpoint.id)


def callback_hash_matches(waitpoint: Waitpoint, candidate: str) -> bool:
    """Constant time, for any text (compared as UTF-8 bytes: `compare_digest` refuses non-ASCII
    str); the previous signing secret still matches during its grace period after a rotation."""
    given = candidate.encode("utf-8", "surrogatepass")
    matched = False
    for secret in waitpoint.environment.verifying_secrets():
        matched |= hmac.compare_digest(_hash(secret, waitpoint.id).encode(), given)
    return matched


def callback_url(waitpoint: Waitpoint) -> str:
    path = reverse(
        "token-callback",
        kwargs={"token_id": waitpoint.id, "callback_hash": callback_hash(waitpoint)},
    )
    return f"{waitpoints_settings.public_url}{path}"
