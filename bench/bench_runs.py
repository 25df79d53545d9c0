"""Benchmark of durable runs (not a test): wake-up latency and the cost of waiting runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wp_runs \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/1 \
    .venv/bin/python bench/bench_runs.py --latency-runs 300 --waiting-runs 10000

1. Wake-up latency: a run waits on a token; we take the time, complete the token, and the run
   records `time.time()` on the line right after `wait.for_token`. Sequential, one run at a time,
   a real `celery worker` process and a Redis broker (`make bench`) or RabbitMQ (`amqp://...`).
2. Many waiting runs: trigger N runs that each create a token and wait on it, let the worker
   drain them, then count worker slots in use (Celery's `inspect active`) and the database bytes
   the waiting runs take (run row, journal, block, and their token).

It TRUNCATEs the run and waitpoint tables of the database it is given: point it at a database of
its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("WAITPOINTS_TASK_MODULES", "bench.bench_tasks")
os.environ["DEBUG"] = "0"  # as in production (the workers inherit it): no per-query logging

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from config.celery import app  # noqa: E402
from waitpoints import tasks  # noqa: E402
from waitpoints.environments.services import environment_get_or_create  # noqa: E402
from waitpoints.models import Run, RunBlock, RunStatus  # noqa: E402
from waitpoints.tokens.services.complete import token_complete  # noqa: E402

TABLES = {
    "run": "waitpoints_run",
    "journal": "waitpoints_runjournalentry",
    "block": "waitpoints_runblock",
    "waitpoint": "waitpoints_waitpoint",
    "tag": "waitpoints_waitpointtag",
    "audit": "waitpoints_auditevent",
}


def start_worker(pool: str, concurrency: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "WAITPOINTS_TASK_MODULES": os.environ.get("BENCH_TASK_MODULES", "bench.bench_tasks"),
    }
    log = open(log_path, "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}",
            f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat", f"--hostname=bench-{os.getpid()}@%h",
        ],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5)
        if any(f"bench-{os.getpid()}" in name for reply in replies for name in reply):
            return process
        if process.poll() is not None:
            break
    raise SystemExit(f"worker did not start:\n{log_path.read_text()}")


def stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.01):
    # The latency is stamped by the worker, so polling slowly costs no accuracy, and keeps this
    # process from competing with the worker and PostgreSQL for the CPU.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE waitpoints_runjournalentry, waitpoints_runblock, waitpoints_run, "
            "waitpoints_auditevent, waitpoints_waitpointtag, waitpoints_waitpoint CASCADE"
        )
    if app.conf.broker_url.startswith("redis://"):
        app.connection_for_write().default_channel.client.flushdb()
    else:
        app.control.purge()


def latency(environment, runs: int, pool: str, dbos=None) -> dict[str, float]:
    """complete → the resumed run's next line, split into: the completing transaction (with the
    wake message sent on commit), broker delivery to the worker, claim (+ journal load), and the
    replay up to the line after `for_token` (which locks the token and journals its result).

    With `dbos` (a `bench_dbos.DbosWakeups`), a DBOS `send` → `recv` wake-up follows each of ours,
    so that both sides of the comparison share the machine's load sample by sample."""
    worker = start_worker(pool, 1, REPO_ROOT / "var" / f"bench-worker-{pool}.log")
    try:
        samples: dict[str, list[float]] = {
            "total": [], "complete": [], "deliver": [], "claim": [], "replay": [], "dbos": [],
        }  # fmt: skip
        for index in range(runs + 10):
            triggered = tasks.trigger("bench-wait", {}, environment=environment)
            block = wait_for(
                lambda run_id=triggered.id: RunBlock.objects.filter(
                    run_id=run_id, run__status=RunStatus.WAITING
                ).first(),
                10,
                "the run to wait",
            )
            time.sleep(0.05)  # let the worker go idle: acked, back to waiting on the broker
            started = time.time()
            token_complete(
                environment=environment, token_id=block.waitpoint_id, data=1, via="sdk", actor="b"
            )
            committed = time.time()  # the completion committed and the wake message was sent
            run = wait_for(
                lambda run_id=triggered.id: Run.objects.filter(
                    id=run_id, status=RunStatus.COMPLETED
                ).first(),
                10,
                "the run to complete",
            )
            if index < 10:  # warm-up excluded
                continue
            out = run.output
            samples["total"].append((out["resumedAt"] - started) * 1000)
            samples["complete"].append((committed - started) * 1000)
            samples["deliver"].append((out["taskStartedAt"] - committed) * 1000)
            samples["claim"].append((out["enteredAt"] - out["taskStartedAt"]) * 1000)
            samples["replay"].append((out["resumedAt"] - out["enteredAt"]) * 1000)
            if dbos is not None:
                samples["dbos"].append(dbos.one())
    finally:
        stop_worker(worker)
    total = samples["total"]
    result = {
        "runs": len(total),
        "p50_ms": percentile(total, 0.50),
        "p90_ms": percentile(total, 0.90),
        "p99_ms": percentile(total, 0.99),
        "mean_ms": statistics.fmean(total),
        "max_ms": max(total),
    }
    for part in ("complete", "deliver", "claim", "replay"):
        result[f"{part}_p50_ms"] = percentile(samples[part], 0.50)
    if samples["dbos"]:
        result["dbos_p50_ms"] = percentile(samples["dbos"], 0.50)
        result["dbos_p99_ms"] = percentile(samples["dbos"], 0.99)
    return result


def table_bytes() -> dict[str, int]:
    with connection.cursor() as cursor:
        sizes = {}
        for name, table in TABLES.items():
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[name] = cursor.fetchone()[0]
    return sizes


def many_waiting(environment, count: int, concurrency: int) -> dict[str, float]:
    truncate()
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM FULL waitpoints_run, waitpoints_runjournalentry, waitpoints_runblock, waitpoints_waitpoint, waitpoints_waitpointtag"
        )
    before = table_bytes()
    started = time.monotonic()
    for _ in range(count):
        tasks.trigger("bench-wait", {"timeout": "1d"}, environment=environment)
    triggered_in = time.monotonic() - started
    worker = start_worker("prefork", concurrency, REPO_ROOT / "var" / "bench-worker-many.log")
    try:
        drain_started = time.monotonic()
        wait_for(
            lambda: Run.objects.filter(status=RunStatus.WAITING).count() == count,
            1800,
            f"{count} runs to be WAITING",
            interval=0.5,
        )
        drained_in = time.monotonic() - drain_started
        time.sleep(1)
        active = app.control.inspect(timeout=2).active() or {}
        slots_held = sum(len(items) for items in active.values())
        reserved = app.control.inspect(timeout=2).reserved() or {}
        reserved_count = sum(len(items) for items in reserved.values())
    finally:
        stop_worker(worker)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    after = table_bytes()
    delta = {name: after[name] - before[name] for name in TABLES}
    run_side = delta["run"] + delta["journal"] + delta["block"]
    return {
        "waiting_runs": Run.objects.filter(status=RunStatus.WAITING).count(),
        "worker_slots_held": slots_held,
        "messages_reserved": reserved_count,
        "trigger_seconds": triggered_in,
        "drain_seconds": drained_in,
        "bytes_per_run_side": run_side / count,
        "bytes_per_run_with_token": (run_side + delta["waitpoint"] + delta["tag"]) / count,
        **{f"bytes_{name}": delta[name] / count for name in TABLES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-runs", type=int, default=300)
    parser.add_argument("--waiting-runs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pools", default="prefork,solo")
    parser.add_argument(
        "--with-dbos", action="store_true", help="a DBOS wake-up after each of ours (P2's pairs)"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not app.conf.broker_url.startswith(
        ("redis://", "amqp://")
    ):
        raise SystemExit(
            "Run against PostgreSQL and Redis or RabbitMQ (set DATABASE_URL, CELERY_BROKER_URL)"
        )
    call_command("migrate", verbosity=0)
    environment = environment_get_or_create(slug="bench")
    truncate()
    dbos = None
    if args.with_dbos:
        from bench.bench_dbos import DbosWakeups

        dbos = DbosWakeups()
    for pool in filter(None, args.pools.split(",")):
        result = latency(environment, args.latency_runs, pool, dbos)
        print(
            f"latency complete → resumed next line, pool={pool}: "
            + ", ".join(
                f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
            )
        )
    if args.waiting_runs:
        result = many_waiting(environment, args.waiting_runs, args.concurrency)
        for key, value in result.items():
            print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
