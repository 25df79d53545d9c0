"""Webhooks: completion → webhook received, and what subscribed endpoints cost the completion API.

    BENCH_BROKER_URL=redis://127.0.0.1:6379/<a db of its own> \
    .venv/bin/python -m bench.bench_webhooks [--deliveries 200] [--seconds 8] [--rounds 2]

A real gunicorn (2 workers), a real `celery worker` consuming the delivery tasks, PostgreSQL, Redis
and a real HTTP receiver on loopback (a threaded `http.server` in this process that stamps each
arrival with `time.time()`); `WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE=1` lets the endpoints be loopback.

1. Delivery latency: one endpoint subscribed to `waitpoint.completed`; a token is completed
   through the API, one at a time, and we take the time from the complete response to the
   receiver's arrival of its event. Parts: response → the worker's claim of the delivery (the
   message through Redis, the task starting), claim → arrival (render, sign, POST).
2. Completion throughput: wrk completes a different WAITING token per request with 0, 1 and 5
   endpoints subscribed in the token's environment; rounds alternate the order (0,1,5 then 5,1,0)
   so drift on a shared machine falls on every count alike. No worker runs meanwhile (the
   messages wait in Redis and are purged): this is the completion side's cost, not CPU taken by
   deliveries on the same cores. One more run with 5 endpoints has a worker delivering alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import redis
import requests

from bench.bench_api import COMPLETE_EACH_ONCE
from bench.common import (
    BROKER_URL,
    ROOT,
    bench_database,
    gunicorn,
    manage,
    percentile,
    recreate_database,
    server_env,
    wrk,
)

DB_NAME = os.environ.get("BENCH_WEBHOOKS_DATABASE_NAME", bench_database("webhooks"))
QUEUE = "bench-webhooks"  # a queue of its own on the shared broker db
BENCH_ENV = {
    "WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE": "1",
    "WAITPOINTS_RATE_LIMITS": "off",
    "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
}
WORKER_LOG = ROOT / "var" / "bench-webhooks-worker.log"

SEED_WAITING_SQL = """
INSERT INTO waitpoints_waitpoint
  (id, environment_id, kind, status, output_is_error, timeout_at, completed_via, completed_by,
   idempotency_key_active, title, created_at, reminders_sent)
SELECT 'waitpoint_' || %(prefix)s || lpad(n::text, 9, '0'), %(env)s, 'MANUAL', 'WAITING', false,
       now() + interval '1 day', '', '', true, '', now(), 0
FROM generate_series(1, %(count)s) AS n
RETURNING id
"""


class Receiver:
    """A webhook receiver on loopback: answers 204 at once, stamps every arrival."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # subject id and webhook-id -> time.time()
        self.count = 0
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                self.send_response(204)
                self.end_headers()
                subject = json.loads(body).get("data", {}).get("id")
                with receiver.changed:
                    receiver.count += 1
                    receiver.arrivals[self.headers["webhook-id"]] = arrived
                    if subject:
                        receiver.arrivals.setdefault(subject, arrived)
                    receiver.changed.notify_all()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{path}"

    def wait_for(self, key: str, timeout: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.arrivals, timeout):
                raise SystemExit(f"no webhook for {key} within {timeout:g} s (see {WORKER_LOG})")
            return self.arrivals[key]

    def close(self) -> None:
        self.server.shutdown()


def start_worker(db_url: str, concurrency: int) -> subprocess.Popen:
    WORKER_LOG.parent.mkdir(exist_ok=True)
    log = open(WORKER_LOG, "a")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-gossip",
            "--without-mingle", "--without-heartbeat", f"--hostname=bench-webhooks-{os.getpid()}@%h",
        ],
        cwd=ROOT, env=server_env(db_url, **BENCH_ENV), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop_worker(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # warm shutdown: the pool finishes its current tasks
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def purge_queue() -> None:
    redis.Redis.from_url(BROKER_URL).delete(QUEUE)


def serving_pids(db_url: str, port: int) -> list[int]:
    """gunicorn's workers (children of the master bound to `port`) and the PostgreSQL backends
    of the benchmark's database: the processes a completion spends CPU in (Redis aside)."""
    masters, parents = set(), {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"gunicorn" in b" ".join(cmdline) and f"127.0.0.1:{port}".encode() in cmdline:
            masters.add(int(proc.name))
    with psycopg.connect(db_url) as conn:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for pid, parent in parents.items() if parent in masters] + [b[0] for b in backends]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def seed(db_url: str, env_id: int, prefix: str, count: int) -> list[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                SEED_WAITING_SQL, {"prefix": prefix, "env": env_id, "count": count}
            )
        ]
        conn.execute("ANALYZE waitpoints_waitpoint")
    return ids  # fmt: skip


def latency(db_url, base, session, receiver, env_id, deliveries: int) -> dict[str, float]:
    warmup = 10
    ids = seed(db_url, env_id, "whlat_", deliveries + warmup)
    complete, total, after = [], [], []
    responded_at: dict[str, float] = {}
    for index, token_id in enumerate(ids):
        started = time.time()
        response = session.post(
            f"{base}/api/v1/waitpoints/tokens/{token_id}/complete", json={"data": {"ok": True}}
        )
        responded = time.time()
        response.raise_for_status()
        arrived = receiver.wait_for(token_id, 30)
        if index >= warmup:
            complete.append((responded - started) * 1000)
            total.append((arrived - started) * 1000)
            after.append((arrived - responded) * 1000)
            responded_at[token_id] = responded
        time.sleep(0.05)  # let the worker finish its bookkeeping and go idle
    with psycopg.connect(db_url) as conn:
        claimed = dict(
            conn.execute(
                "SELECT subject_id, extract(epoch FROM last_attempt_at)::float8 "
                "FROM waitpoints_webhookdelivery WHERE subject_id = ANY(%s)",
                [list(responded_at)],
            ).fetchall()
        )
    to_claim = [(claimed[key] - responded_at[key]) * 1000 for key in responded_at]
    claim_to_arrival = [(receiver.arrivals[key] - claimed[key]) * 1000 for key in responded_at]
    return {
        "deliveries": len(after),
        "p50_ms": percentile(after, 0.5),
        "p90_ms": percentile(after, 0.9),
        "p99_ms": percentile(after, 0.99),
        "max_ms": max(after),
        "mean_ms": statistics.fmean(after),
        "from_request_p50_ms": percentile(total, 0.5),
        "from_request_p99_ms": percentile(total, 0.99),
        "complete_request_p50_ms": percentile(complete, 0.5),
        "to_claim_p50_ms": percentile(to_claim, 0.5),
        "claim_to_arrival_p50_ms": percentile(claim_to_arrival, 0.5),
    }


def set_subscribed(session, base, endpoint_ids: list[str], count: int) -> None:
    for index, endpoint_id in enumerate(endpoint_ids):
        session.patch(
            f"{base}/api/v1/webhooks/{endpoint_id}", json={"enabled": index < count}
        ).raise_for_status()


def throughput(db_url, base, key, env_id, prefix, pool, seconds, connections) -> dict:
    """wrk completing a fresh WAITING token per request; req/s, and what the database saw."""
    ids = seed(db_url, env_id, prefix, pool)
    with tempfile.NamedTemporaryFile("w", delete=False) as handle:
        handle.write("\n".join(ids))
    pids = serving_pids(db_url, int(base.rsplit(":", 1)[1]))
    cpu_before = cpu_seconds(pids)
    try:
        rps = wrk(
            base,
            COMPLETE_EACH_ONCE,
            seconds=seconds,
            connections=connections,
            env={"IDS_FILE": handle.name, "KEY": key},
        )
    finally:
        os.unlink(handle.name)
    time.sleep(0.5)  # requests still in flight when wrk stopped
    cpu = cpu_seconds(pids) - cpu_before
    with psycopg.connect(db_url) as conn:
        completed, waiting, deliveries = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'COMPLETED'), "
            "count(*) FILTER (WHERE status = 'WAITING'), "
            "(SELECT count(*) FROM waitpoints_webhookdelivery WHERE subject_id = ANY(%(ids)s)) "
            "FROM waitpoints_waitpoint WHERE id = ANY(%(ids)s)",
            {"ids": ids},
        ).fetchone()
    if not waiting:
        raise SystemExit(f"wrk used up all {pool} tokens of {prefix}: raise the pool")
    return {
        "rps": rps,
        "completed": completed,
        "deliveries": deliveries,
        "cpu_us": cpu / completed * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200, help="sequential latency samples")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (0,1,5 / 5,1,0)")
    parser.add_argument("--endpoints", default="0,1,5", help="endpoint counts to measure")
    args = parser.parse_args()
    counts = [int(n) for n in args.endpoints.split(",")]

    db_url = recreate_database(DB_NAME)
    manage(db_url, "migrate", "--verbosity=0")
    key = manage(db_url, "create_api_key", "--environment", "bench").strip().splitlines()[-1]
    with psycopg.connect(db_url) as conn:
        env_id = conn.execute("SELECT id FROM waitpoints_environment WHERE slug = 'bench'").fetchone()[0]  # fmt: skip
    purge_queue()
    receiver = Receiver()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    runs: dict[int, list[float]] = {n: [] for n in counts}
    cpu_us: dict[int, list[float]] = {n: [] for n in counts}
    try:
        with gunicorn(db_url, **BENCH_ENV) as base:
            endpoint_ids = []
            for index in range(max(counts)):
                answer = session.post(
                    f"{base}/api/v1/webhooks",
                    json={"url": receiver.url(f"hook/{index}"), "events": ["waitpoint.completed"]},
                )
                answer.raise_for_status()
                endpoint_ids.append(answer.json()["id"])
            set_subscribed(session, base, endpoint_ids, 1)

            worker = start_worker(db_url, 1)
            try:  # the worker is up when a test event arrives
                test = session.post(f"{base}/api/v1/webhooks/{endpoint_ids[0]}/test")
                test.raise_for_status()
                receiver.wait_for(test.json()["id"], 60)
                lat = latency(db_url, base, session, receiver, env_id, args.deliveries)
            finally:
                stop_worker(worker)
            purge_queue()

            set_subscribed(session, base, endpoint_ids, 0)
            warm = throughput(db_url, base, key, env_id, "whwarm_", 20_000, 2, args.connections)
            pool = max(5_000, int(warm["rps"] * args.seconds * 3))
            for round_ in range(args.rounds):
                for count in counts if round_ % 2 == 0 else counts[::-1]:
                    set_subscribed(session, base, endpoint_ids, count)
                    prefix = f"wh{round_}e{count}_"
                    result = throughput(db_url, base, key, env_id, prefix, pool, args.seconds, args.connections)  # fmt: skip
                    purge_queue()
                    if result["deliveries"] != result["completed"] * count:
                        raise SystemExit(f"{prefix}: {result} (expected {count} per completion)")
                    runs[count].append(result["rps"])
                    cpu_us[count].append(result["cpu_us"])
                    print(f"{count} endpoints, round {round_ + 1}: {result['rps']:.0f} req/s, {result['cpu_us']:.0f} µs CPU each", flush=True)  # fmt: skip

            # Five endpoints with a worker (2 slots) delivering on the same cores meanwhile.
            set_subscribed(session, base, endpoint_ids, max(counts))
            worker = start_worker(db_url, 2)
            try:
                test = session.post(f"{base}/api/v1/webhooks/{endpoint_ids[0]}/test")
                receiver.wait_for(test.json()["id"], 60)
                received_before = receiver.count
                with_worker = throughput(db_url, base, key, env_id, "whworker_", pool, args.seconds, args.connections)  # fmt: skip
                received = receiver.count - received_before
            finally:
                stop_worker(worker)
            purge_queue()
    finally:
        receiver.close()

    rps = {count: statistics.fmean(values) for count, values in runs.items()}
    cpu = {count: statistics.fmean(values) for count, values in cpu_us.items()}
    base_rps = rps[counts[0]]
    load = os.getloadavg()
    print(
        f"\nWaitpoints webhooks benchmark (gunicorn 2 workers, celery prefork, wrk -c{args.connections}, "
        f"{args.seconds}s × {args.rounds} rounds; {os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f})"
    )
    print(
        f"complete → webhook received ({lat['deliveries']} sequential): p50 {lat['p50_ms']:.1f} / "
        f"p90 {lat['p90_ms']:.1f} / p99 {lat['p99_ms']:.1f} / max {lat['max_ms']:.1f} ms; "
        f"from the request: p50 {lat['from_request_p50_ms']:.1f} / p99 {lat['from_request_p99_ms']:.1f} ms"
    )
    print(
        f"  parts (p50): complete request {lat['complete_request_p50_ms']:.1f} ms, response → claimed "
        f"{lat['to_claim_p50_ms']:.1f} ms, claimed → received {lat['claim_to_arrival_p50_ms']:.1f} ms"
    )
    for count in counts:
        each = ", ".join(f"{value:.0f}" for value in runs[count])
        print(f"complete, {count} endpoints: {rps[count]:.0f} req/s ({rps[count] / base_rps:.2f}×; runs {each}); CPU per completion {cpu[count]:.0f} µs ({cpu[counts[0]] / cpu[count]:.2f}× the completions per CPU second)")  # fmt: skip
    print(
        f"complete, {max(counts)} endpoints, worker delivering alongside: {with_worker['rps']:.0f} req/s "
        f"({with_worker['rps'] / base_rps:.2f}×); {received / args.seconds:.0f} webhooks/s received"
    )
    figures = {
        **{f"latency_{name}": value for name, value in lat.items()},
        **{f"complete_rps_{count}": value for count, value in rps.items()},
        **{f"complete_rps_{count}_runs": runs[count] for count in counts},
        **{f"complete_cpu_us_{count}": value for count, value in cpu.items()},
        "complete_rps_with_worker": with_worker["rps"],
        "with_worker_endpoints": max(counts),
        "with_worker_received_per_s": received / args.seconds,
        "load": load[0],
    }
    print("BENCH_JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
