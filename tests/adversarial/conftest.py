"""Fixtures for the adversarial suite (shared ones are in tests/conftest.py, not copied)."""

from tests.runs.conftest import worker_task_modules  # noqa: F401  (re-exported fixture)
