"""The SDK's `environment=` argument: a slug, an Environment, or the default."""

from __future__ import annotations

from waitpoints.conf import waitpoints_settings
from waitpoints.environments.services import environment_get_or_create
from waitpoints.models import Environment


def resolve_environment(environment: str | Environment | None) -> Environment:
    if isinstance(environment, Environment):
        return environment
    slug = environment or waitpoints_settings.default_environment
    return environment_get_or_create(slug=slug)
