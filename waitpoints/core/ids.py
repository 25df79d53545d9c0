"""Identifiers and secrets of new rows (random, URL-safe), and the hashes stored of secrets."""

import hashlib
import re
import secrets
import uuid


def new_id(prefix: str) -> str:
    # 20 url-safe bytes -> 27 characters: far above the design's 20-character floor.
    return f"{prefix}_{secrets.token_urlsafe(20)}"


WAITPOINT_ID_PREFIX = "waitpoint_"


def new_waitpoint_id() -> str:
    return new_id(WAITPOINT_ID_PREFIX.rstrip("_"))


def new_run_id() -> str:
    return new_id("run")


# Every id this service issues matches this; anything else (a NUL, non-ASCII, a huge string) is
# unknown without asking the database, which would refuse some of them with an error (a 500).
_PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def is_plausible_id(value: object) -> bool:
    return isinstance(value, str) and _PLAUSIBLE_ID.fullmatch(value) is not None


def idempotency_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """What is stored of an API key: its SHA-256 (the secret itself is shown once)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_webhook_endpoint_id() -> str:
    return new_id("webhook")


def new_webhook_message_id() -> str:
    """A delivery's `webhook-id`. The PostgreSQL fast paths make the same shape in SQL
    (`'msg_' || replace(gen_random_uuid()::text, '-', '')`, `webhooks.sql`)."""
    return f"msg_{uuid.uuid4().hex}"
