"""Crashes while runs are in flight: the broker (a redis-server or RabbitMQ node of our own, never
the shared one) killed and restarted while runs wait, and a worker SIGKILLed in the middle of several runs.
Each run finishes exactly once; no completion that was answered with success is lost.
(tests/runs/test_worker.py covers one run killed mid-run; these add volume and the broker.)
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.adversarial import tasks_for_crashes  # noqa: F401  (registers adv-slow-once here)
from tests.processes import start_gunicorn, start_rabbitmq, start_redis, wait_until
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
    """A broker only this test uses, of the configured kind: a redis-server (no persistence), or a
    RabbitMQ node (its queues durable, its state kept in `tmp_path` across a restart); the worker
    is pointed at it (set before it starts). `restart()` starts it again on the same port."""
    rabbitmq = settings.CELERY_BROKER_URL.startswith(("amqp://", "pyamqp://"))
    data_dir = tmp_path / "rabbitmq"

    def start(port: int | None = None):
        if rabbitmq:
            return start_rabbitmq(data_dir, port=port)
        return start_redis(tmp_path, port=port)

    holder = {}
    holder["process"], port = start()
    holder["url"] = (
        f"amqp://guest:guest@127.0.0.1:{port}//" if rabbitmq else f"redis://127.0.0.1:{port}/0"
    )

    def restart() -> None:
        holder["process"], _ = start(port)

    holder["restart"] = restart
    settings.CELERY_BROKER_URL = holder["url"]
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
            "CELERY_BROKER_URL": own_broker["url"],
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

        # The broker dies (Redis: its queues with it, no persistence; RabbitMQ: killed -9, its
        # durable queues come back). Completions still succeed: they are stored; their wake-up
        # messages are lost with the broker (or never sent).
        own_broker["process"].kill()
        for run_id in run_ids[:3]:
            answer = complete(run_id)
            assert (answer.status_code, answer.json()) == (200, {"success": True})
            assert Waitpoint.objects.get(id=token_of[run_id]).status == WaitpointStatus.COMPLETED

        # The broker comes back on the same port; later completions wake their runs, and beat
        # re-sends the wake-ups the dead broker lost (QUEUED unclaimed, or the lease expired).
        own_broker["restart"]()
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

    markers = {
        run_id: Path(payload["marker"]) for run_id, payload in zip(run_ids, payloads, strict=True)
    }

    def sleeping() -> list[str]:
        # EXECUTING is set by the claim, before the step; the marker only once the step's result
        # is journaled. A kill between the step's side effect and its journal row repeats the
        # step on replay (at-least-once, by design), which is not what this test is about.
        executing = Run.objects.filter(status=RunStatus.EXECUTING).values_list("id", flat=True)
        return [run_id for run_id in executing if markers[run_id].exists()]

    mid_run = wait_until(
        lambda: len(sleeping()) == 2 and sleeping(), what="two runs in their long sleep"
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
