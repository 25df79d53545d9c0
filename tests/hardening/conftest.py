"""The run test tasks (test-echo, …) are registered here too."""

from tests.runs import tasks_for_tests  # noqa: F401
