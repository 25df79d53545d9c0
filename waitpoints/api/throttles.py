"""Per-API-key rate limits (README, "Abuse limits"): 429 `rate_limited` with Retry-After.

Counted in Django's cache, so every web process shares them when the cache is Redis
(`CACHE_URL`). Rates are read per request (WAITPOINTS_RATE_LIMIT_*), and
WAITPOINTS_RATE_LIMITS=off turns them all off.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle

from waitpoints.conf import waitpoints_settings
from waitpoints.errors import ErrorCode


class RateLimited(exceptions.Throttled):
    default_code = ErrorCode.RATE_LIMITED


class ApiKeyThrottle(SimpleRateThrottle):
    """One bucket per API key and kind of request (`create`, `complete`, `list`); a public
    access token counts against its environment's `complete` bucket. The view names the kind
    of each method in `throttle_kinds`."""

    def __init__(self) -> None:  # the rate is read per request, not from DRF's settings
        self.rate = None

    def allow_request(self, request, view) -> bool:
        if not waitpoints_settings.rate_limits:
            return True
        kind = getattr(view, "throttle_kinds", {}).get(request.method)
        self.rate = getattr(waitpoints_settings, f"rate_limit_{kind}") if kind else None
        if self.rate is None:
            return True
        self.scope = kind
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        principal = request.user
        if principal is None:
            return None  # the callback URL: its hash is the credential, no key to count
        if principal.api_key is not None:
            ident = f"key-{principal.api_key.pk}"
        else:
            ident = f"pat-{principal.environment.pk}"
        return f"waitpoints:throttle:{self.scope}:{ident}"


def charge_notify_emails(request, count: int) -> None:
    """Count `count` approval emails against the API key's hourly cap; RateLimited beyond it
    (nothing is created then)."""
    cap = waitpoints_settings.notify_emails_per_key_per_hour
    if not waitpoints_settings.rate_limits or not cap or not count:
        return
    principal = request.user
    ident = principal.api_key.pk if principal.api_key is not None else "pat"
    hour = int(time.time() // 3600)
    key = f"waitpoints:notify:{principal.environment.pk}:{ident}:{hour}"
    cache.add(key, 0, 3700)
    try:
        used = cache.incr(key, count)
    except ValueError:  # evicted in between
        cache.set(key, count, 3700)
        used = count
    if used > cap:
        cache.decr(key, count)
        wait = math.ceil((hour + 1) * 3600 - time.time())
        raise RateLimited(
            wait=wait,
            detail=f"At most {cap} approval emails per API key per hour; retry in {wait} s",
        )
