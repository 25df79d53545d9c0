"""A task for the crash tests, imported by the worker through WAITPOINTS_TASK_MODULES."""

from __future__ import annotations

import time
from pathlib import Path

from tests.runs.tasks_for_tests import append_line
from waitpoints import task, wait
from waitpoints.runs.runtime.context import current_run


@task(id="adv-slow-once")
def slow_once(payload):
    """Journals a step, then (first execution only) sleeps long enough to be killed in."""
    wait.step("started", append_line, payload["log"], "started")
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text("sleeping")
        time.sleep(payload.get("seconds", 3))
    append_line(payload["log"], "finished")  # not journaled: once per execution that gets here
    return {"attempt": current_run().attempt}
