"""Crashes while runs are in flight: the broker (a redis-server of our own, never the shared
one) killed and restarted while runs wait, and a worker SIGKILLed in the middle of several runs.
Each run finishes exactly once; no completion that was answered with success is lost.
(tests/runs/test_worker.py covers one run killed mid-run; these add volume and the broker.)
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.adversarial import tasks_for_crashes  # noqa: F401  (registers adv-slow-once here)
from tests.processes import start_gunicorn, start_redis, wait_until
from tests.runs.tasks_for_tests import lines
from waitpoints import tasks
from waitpoints.models import Run, RunBlock, RunStatus, Waitpoint, WaitpointStatus

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TASK_MODULES = "tests.runs.tasks_for_tests,tests.adversarial.tasks_for_crashes"


@pytest.fixture
def worker_task_modules() -> str:
    return TASK_MODULES


@pytest.fixture
def own_broker(tmp_path, settings):
    """A redis-server only this test uses; the worker is pointed at it (set before it starts)."""
    holder = {}
    holder["process"], holder["port"] = start_redis(tmp_path)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{holder['port']}/0"
    yield holder
    holder["process"].stop()


def test_broker_killed_and_restarted_while_runs_wait(
    own_broker, start_worker, environment, secret_key, tmp_path
):
    from config.celery import app

    worker = start_worker(beat=True, lease_seconds=3, concurrency=2)
    server, base_url = start_gunicorn(
        tmp_path,
        env={
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{own_broker['port']}/0",
            "CELERY_TASK_DEFAULT_QUEUE": app.conf.task_default_queue,
            "WAITPOINTS_TASK_MODULES": TASK_MODULES,
            # The lease the web process gives a woken run: a wake-up lost with the broker is
            # re-sent once it expires (300 s by default; short here to keep the test short).
            "WAITPOINTS_RUN_LEASE_SECONDS": "3",
        },
        workers=1,
    )
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {secret_key}"
    try:
        logs = [str(tmp_path / f"run-{n}.log") for n in range(6)]
        run_ids = []
        for log in logs:
            answer = http.post(
                f"{base_url}/api/v1/tasks/test-wait-for-token/trigger",
                json={"payload": {"log": log}},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            run_ids.append(answer.json()["id"])
        wait_until(
            lambda: Run.objects.filter(id__in=run_ids, status=RunStatus.WAITING).count() == 6,
            what="the runs to wait",
        )
        token_of = dict(RunBlock.objects.values_list("run_id", "waitpoint_id"))

        def complete(run_id: str) -> requests.Response:
            return http.post(
                f"{base_url}/api/v1/waitpoints/tokens/{token_of[run_id]}/complete",
                json={"data": {"for": run_id}},
                timeout=60,
            )

        # The broker dies (its queues with it: no persistence). Completions still succeed:
        # they are stored; the wake-up messages are lost with the broker.
        own_broker["process"].kill()
        for run_id in run_ids[:3]:
            answer = complete(run_id)
            assert (answer.status_code, answer.json()) == (200, {"success": True})
            assert Waitpoint.objects.get(id=token_of[run_id]).status == WaitpointStatus.COMPLETED

        # The broker comes back, empty, on the same port; later completions wake their runs,
        # and the lease sweeper re-sends the wake-ups the dead broker lost.
        own_broker["process"], _ = start_redis(tmp_path, port=own_broker["port"])
        for run_id in run_ids[3:]:
            answer = complete(run_id)
            assert (answer.status_code, answer.json()) == (200, {"success": True})

        workers = [worker]

        def all_finished() -> bool:
            # Celery/kombu 5.7 can stop a worker with "Unrecoverable error" when the broker dies
            # in the middle of an ack (AttributeError inside kombu's redis transport). In
            # production its supervisor (systemd, Kubernetes) starts it again; so does this test.
            if workers[-1].process.poll() is not None:
                workers.append(start_worker(beat=True, lease_seconds=3, concurrency=2))
            finished = Run.objects.filter(id__in=run_ids, status=RunStatus.COMPLETED).count()
            return finished == 6

        wait_until(
            all_finished,
            timeout=90,
            what=lambda: (
                "every run to finish after the broker restart: "
                f"{list(Run.objects.values_list('id', 'status', 'lease_expires_at'))}\n"
                f"worker log:\n{workers[-1].log()[-6000:]}\nweb log:\n{server.log()[-3000:]}"
            ),
        )
        for run_id in run_ids:
            run = Run.objects.get(id=run_id)
            assert run.output == {"ok": True, "output": {"for": run_id}}
        time.sleep(1)  # a duplicate execution, if any, would have landed by now
        for log in logs:
            assert lines(log) == ["before", "after"]
    finally:
        http.close()
        server.stop()


def test_worker_sigkilled_in_the_middle_of_several_runs_finishes_each_once(
    start_worker, environment, tmp_path
):
    worker = start_worker(beat=True, lease_seconds=3, concurrency=2)
    # Each run's first execution sleeps for less than the lease: one that outlived it would be
    # taken for stalled and run again (by design), and "finished" would be written twice.
    payloads = [
        {
            "log": str(tmp_path / f"run-{n}.log"),
            "marker": str(tmp_path / f"marker-{n}"),
            "seconds": 2,
        }
        for n in range(8)
    ]
    run_ids = [
        tasks.trigger("adv-slow-once", payload, environment=environment).id for payload in payloads
    ]

    def executing() -> list[str]:
        return list(Run.objects.filter(status=RunStatus.EXECUTING).values_list("id", flat=True))

    mid_run = wait_until(
        lambda: len(executing()) == 2 and executing(), what="two runs in their long sleep"
    )
    worker.kill()  # SIGKILL: main process and pool children, mid-run, no cleanup

    start_worker(beat=True, lease_seconds=3, concurrency=2)
    wait_until(
        lambda: Run.objects.filter(id__in=run_ids, status=RunStatus.COMPLETED).count() == 8,
        timeout=120,
        what=f"every run to finish after the worker restart\n{worker.log()[-3000:]}",
    )
    time.sleep(1)  # a duplicate execution, if any, would have landed by now
    for run_id, payload in zip(run_ids, payloads, strict=True):
        run = Run.objects.get(id=run_id)
        # The journaled step ran once even for a run executed twice; the run finished once.
        assert lines(payload["log"]) == ["started", "finished"], (run_id, lines(payload["log"]))
        if run_id in mid_run:
            assert run.output["attempt"] >= 2  # the lost execution counted as an attempt
