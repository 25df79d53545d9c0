"""Identifiers and secrets of new rows (random, URL-safe), and the hashes stored of secrets."""

import hashlib
import secrets


def new_id(prefix: str) -> str:
    # 20 url-safe bytes -> 27 characters: far above the design's 20-character floor.
    return f"{prefix}_{secrets.token_urlsafe(20)}"


WAITPOINT_ID_PREFIX = "waitpoint_"


def new_waitpoint_id() -> str:
    return new_id(WAITPOINT_ID_PREFIX.rstrip("_"))


def new_run_id() -> str:
    return new_id("run")


def idempotency_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """What is stored of an API key: its SHA-256 (the secret itself is shown once)."""
    return hashlib.sha256(secret.encode()).hexdigest()
