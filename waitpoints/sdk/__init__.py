"""The in-process Python SDK: `from waitpoints import wait, task, tasks`.

Token verbs work anywhere in the Django project. Every call takes `environment=` (a slug or an
Environment); it defaults to WAITPOINTS_DEFAULT_ENVIRONMENT.
"""

from waitpoints.client import CreatedToken, Token
from waitpoints.runs.runtime.outputs import WaitResult
from waitpoints.sdk.tasks import Task, Tasks, task, tasks
from waitpoints.sdk.wait import Wait, wait

__all__ = [
    "CreatedToken",
    "Task",
    "Tasks",
    "Token",
    "Wait",
    "WaitResult",
    "task",
    "tasks",
    "wait",
]
