"""Shared fixtures. The suite runs against PostgreSQL (DATABASE_URL).

SQLite, the embedded default `make run` uses, is refused unless WAITPOINTS_TEST_EMBEDDED=1 (`make
test-embedded`): then the tests marked `postgres_only` are skipped and the rest run on a SQLite
file database, so the portable (non-PostgreSQL) code paths run for real.
"""

import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests import factories, processes
from tests.helpers import TOKENS, reviewers_group
from waitpoints.environments.services import api_key_create

EMBEDDED = os.environ.get("WAITPOINTS_TEST_EMBEDDED", "") == "1"


# Rate limits and login lockouts off for the suite, explicitly (the storms and races send far more
# than the defaults allow); tests/ops_limits turns them on where it tests them. The environment
# variables reach the gunicorn and Celery processes the tests start.
os.environ["WAITPOINTS_RATE_LIMITS"] = "off"
os.environ["AXES_ENABLED"] = "0"


def pytest_configure(config):
    settings.WAITPOINTS_RATE_LIMITS = False
    settings.AXES_ENABLED = False
    database = settings.DATABASES["default"]
    if "postgresql" in database["ENGINE"]:
        return
    if not (EMBEDDED and database["ENGINE"] == "django.db.backends.sqlite3"):
        raise pytest.UsageError(
            "The test suite needs PostgreSQL: set DATABASE_URL (the README's `make test` does), "
            "or WAITPOINTS_TEST_EMBEDDED=1 with a SQLite DATABASE_URL (`make test-embedded`)."
        )
    # A file, not Django's default in-memory test database: worker processes started by the
    # tests and threads of the concurrency tests open it as `make run`'s processes do.
    name = Path(database["NAME"])
    database.setdefault("TEST", {})
    database["TEST"]["NAME"] = str(name.with_name(f"test_{name.name}"))


def pytest_collection_modifyitems(config, items):
    """On the embedded default, skip the tests that need PostgreSQL (marked `postgres_only`)."""
    if connection.vendor == "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("postgres_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs PostgreSQL"
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


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


BROKERS_WITH_TEST_QUEUES = ("redis://", "amqp://", "pyamqp://", "filesystem://")


@pytest.fixture
def worker_task_modules() -> str:
    """The task modules (comma-separated) that workers started by `start_worker` import."""
    return ""


@pytest.fixture
def start_worker(transactional_db, tmp_path, worker_task_modules):
    """Start a real `celery worker`: `start_worker(beat=False, lease_seconds=300, concurrency=1)`.

    This test and its workers use a queue of their own (on Redis or RabbitMQ, deleted afterwards)
    or broker folders of their own (kombu's filesystem transport, the embedded default), so stray
    workers of other test runs never take its messages (and it never takes theirs).
    """
    from config.celery import app
    from config.settings import filesystem_broker_options

    broker_url = settings.CELERY_BROKER_URL
    if not broker_url.startswith(BROKERS_WITH_TEST_QUEUES):
        pytest.skip("worker tests need a Redis, RabbitMQ or filesystem broker (CELERY_BROKER_URL)")
    queue = f"waitpoints-test-{uuid.uuid4().hex[:12]}"
    previous = app.conf.task_default_queue, app.conf.broker_transport_options
    app.conf.task_default_queue = queue
    worker_env = {}
    if broker_url.startswith("filesystem://"):
        # The worker's settings put the broker in $WAITPOINTS_VAR_DIR/broker: publish there too.
        var_dir = tmp_path / "var"
        app.conf.broker_transport_options = filesystem_broker_options(var_dir / "broker")
        worker_env["WAITPOINTS_VAR_DIR"] = str(var_dir)
        _drop_broker_connections(app)
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
            env=worker_env,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        app.conf.task_default_queue, app.conf.broker_transport_options = previous
        if broker_url.startswith("filesystem://"):
            _drop_broker_connections(app)
        else:
            processes.delete_queue(broker_url, queue)
        if os.environ.get("SHOW_WORKER_LOG"):
            for worker in workers:
                print(worker.log())


def _drop_broker_connections(app) -> None:
    """Publish through new connections: pooled ones keep the transport options they were made
    with."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._after_fork()  # what Celery does in a forked child: forget the connection pools
