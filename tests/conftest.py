"""Shared fixtures. The suite runs against PostgreSQL (DATABASE_URL); SQLite is refused."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories
from waitpoints import services


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(
            "The test suite needs PostgreSQL: set DATABASE_URL (the README's `make test` does)."
        )


@pytest.fixture
def environment(db):
    return factories.EnvironmentFactory(slug="prod")


@pytest.fixture
def other_environment(db):
    return factories.EnvironmentFactory(slug="staging")


@pytest.fixture
def secret_key(environment):
    return services.api_key_create(environment=environment).secret


@pytest.fixture
def other_secret_key(other_environment):
    return services.api_key_create(environment=other_environment).secret


def _client(secret: str | None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(secret_key):
    """An API client authenticated with a secret key of `environment`."""
    return _client(secret_key)


@pytest.fixture
def other_api(other_secret_key):
    return _client(other_secret_key)


@pytest.fixture
def anonymous_api():
    return _client(None)
