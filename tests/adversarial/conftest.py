"""Fixtures for the adversarial suite (the API and run tests' helpers are reused, not copied)."""

from tests.api.conftest import create_token  # noqa: F401  (re-exported fixture)
from tests.runs.conftest import worker_task_modules  # noqa: F401  (re-exported fixture)
