"""Task functions the run benchmark triggers (the worker imports this module)."""

import time

from celery.signals import task_prerun

from waitpoints import task, wait

_last_task_start: dict[str, float] = {}


@task_prerun.connect(weak=False)
def _stamp_task_start(**kwargs) -> None:
    _last_task_start["at"] = time.time()  # the message reached the worker


@task(id="bench-wait")
def bench_wait(payload):
    entered = time.time()  # the run was claimed and its journal loaded: replay begins
    token = wait.create_token(timeout=payload.get("timeout", "1h"), tags=["bench"])
    result = wait.for_token(token)
    resumed_at = time.time()  # the resumed run's next line
    return {
        "taskStartedAt": _last_task_start.get("at", 0.0),
        "enteredAt": entered,
        "resumedAt": resumed_at,
        "ok": result.ok,
    }
