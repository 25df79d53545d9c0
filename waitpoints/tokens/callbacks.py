"""Callback URLs: a token's completion URL, its HMAC hash the only credential it needs."""

from __future__ import annotations

import hashlib
import hmac

from django.urls import reverse

from waitpoints.conf import waitpoints_settings
from waitpoints.models import Waitpoint


def callback_hash(waitpoint: Waitpoint) -> str:
    secret = waitpoint.environment.signing_secret.encode()
    return hmac.new(secret, f"callback:{waitpoint.id}".encode(), hashlib.sha256).hexdigest()


def callback_hash_matches(waitpoint: Waitpoint, candidate: str) -> bool:
    return hmac.compare_digest(callback_hash(waitpoint), candidate)


def callback_url(waitpoint: Waitpoint) -> str:
    path = reverse(
        "token-callback",
        kwargs={"token_id": waitpoint.id, "callback_hash": callback_hash(waitpoint)},
    )
    return f"{waitpoints_settings.public_url}{path}"
