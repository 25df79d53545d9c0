"""Fixtures for run tests: the test task module, here and in the workers `start_worker` starts."""

import pytest

from tests.runs import tasks_for_tests  # noqa: F401 (registers the test tasks in this process)


@pytest.fixture
def worker_task_modules() -> str:
    return "tests.runs.tasks_for_tests"
