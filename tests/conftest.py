"""Shared fixtures. The suite runs against PostgreSQL (DATABASE_URL); SQLite is refused."""

import os
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from tests import factories, processes
from tests.helpers import TOKENS, reviewers_group
from waitpoints.environments.services import api_key_create


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
    return api_key_create(environment=environment).secret


@pytest.fixture
def other_secret_key(other_environment):
    return api_key_create(environment=other_environment).secret


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


@pytest.fixture
def create_token(api):
    """POST a token with `api` (or another client) and return the 200 body."""

    def create(client=None, **body):
        response = (client or api).post(TOKENS, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return create


# --- Dashboard users: a reviewer (in the "Reviewers" group) and a read-only viewer ---------------


@pytest.fixture
def reviewer(db):
    user = User.objects.create_user("alice", password="pw-alice-123")
    user.groups.add(reviewers_group())
    return user


@pytest.fixture
def viewer(db):
    return User.objects.create_user("victor", password="pw-victor-123")


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def viewer_client(viewer):
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def worker_task_modules() -> str:
    """The task modules (comma-separated) that workers started by `start_worker` import."""
    return ""


@pytest.fixture
def start_worker(transactional_db, tmp_path, worker_task_modules):
    """Start a real `celery worker`: `start_worker(beat=False, lease_seconds=300, concurrency=1)`.

    This test and its workers use a queue of their own, so stray workers of other test runs on the
    same broker never take its messages (and it never takes theirs).
    """
    from config.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("worker tests need a Redis broker (CELERY_BROKER_URL=redis://...)")
    queue = f"waitpoints-test-{uuid.uuid4().hex[:12]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    workers: list[processes.Process] = []

    def start(
        *, beat: bool = False, lease_seconds: float = 300, concurrency: int = 1
    ) -> processes.Process:
        worker = processes.start_celery_worker(
            tmp_path,
            queue=queue,
            task_modules=worker_task_modules,
            beat=beat,
            lease_seconds=lease_seconds,
            concurrency=concurrency,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        app.conf.task_default_queue = previous_queue
        processes.delete_redis_queue(settings.CELERY_BROKER_URL, queue)
        if os.environ.get("SHOW_WORKER_LOG"):
            for worker in workers:
                print(worker.log())
