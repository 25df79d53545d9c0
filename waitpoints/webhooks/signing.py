"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the `standardwebhooks`
package: the secrets, the three headers of a delivery, and `verify` for receivers.

No Django here: a receiver can import `waitpoints.webhooks.verify` without setting Django up.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"

__all__ = ["WebhookVerificationError", "new_secret", "signed_headers", "verify"]


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(*, secret: str, message_id: str, timestamp: datetime, body: str) -> dict:
    """The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str) -> Any:
    """Check a delivery's signature and timestamp (±5 minutes) and return its parsed JSON body.

    `payload` is the raw request body, `headers` the request's headers (any case), `secret` the
    endpoint's `whsec_…`. Raises `WebhookVerificationError` when anything does not match.
    """
    return Webhook(secret).verify(payload, dict(headers))
