"""The cap on tokens waiting per environment (WAITPOINTS_MAX_WAITING_PER_ENVIRONMENT)."""

from __future__ import annotations

import contextlib

from django.core.cache import cache

from waitpoints.conf import waitpoints_settings
from waitpoints.errors import InvalidInput
from waitpoints.models import Environment, Waitpoint, WaitpointKind, WaitpointStatus

# The count is cached this long per environment (shared when the cache is Redis): the cap is
# approximate by up to this many seconds of creates, and a create costs no COUNT query.
COUNT_CACHE_SECONDS = 5


def _cache_key(environment: Environment) -> str:
    return f"waitpoints:waiting-count:{environment.pk}"


def waiting_count(environment: Environment, *, cap: int) -> int:
    """Tokens WAITING in the environment, counted up to `cap` (a bounded index scan)."""
    count = cache.get(_cache_key(environment))
    if count is None:
        waiting = Waitpoint.objects.filter(
            environment=environment, kind=WaitpointKind.MANUAL, status=WaitpointStatus.WAITING
        )
        count = waiting.order_by().values("pk")[:cap].count()
        cache.set(_cache_key(environment), count, COUNT_CACHE_SECONDS)
    return count


def check_waiting_cap(environment: Environment) -> None:
    """InvalidInput (422) when the environment already has its maximum of tokens waiting."""
    cap = waitpoints_settings.max_waiting_per_environment
    if not cap:
        return
    if waiting_count(environment, cap=cap) >= cap:
        raise InvalidInput(
            {
                "environment": f"has {cap} tokens waiting, its maximum "
                "(WAITPOINTS_MAX_WAITING_PER_ENVIRONMENT): complete or time some out first"
            }
        )
    # This create counts until the next recount (expired in between: the next one recounts).
    with contextlib.suppress(ValueError):
        cache.incr(_cache_key(environment))
