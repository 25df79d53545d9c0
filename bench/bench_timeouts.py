"""Timeout lateness (P3), a mass expiry (P4) and list latency at scale (P5).

    .venv/bin/python -m bench.bench_timeouts [--lateness-tokens 1000] [--due-tokens 100000]
                                             [--due-tokens-large 1000000]
                                             [--list-tokens 1000000]

P3 runs the real beat schedule in a Celery worker; P4 calls the sweeper the beat job calls and
reports it as a ratio to its floor measured in the same run (FLOOR_SQL);
P5 queries PostgreSQL through the list selector and prints the query plan.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import psycopg
import redis

from bench.common import BROKER_URL, ROOT, manage, percentile, recreate_database, server_env

SEED_SQL = """
INSERT INTO waitpoints_waitpoint
  (id, environment_id, kind, status, output_is_error, timeout_at, completed_via, completed_by,
   idempotency_key_active, title, created_at, reminders_sent)
SELECT %(prefix)s || lpad(n::text, 12, '0'), %(env)s, 'MANUAL', {status}, false,
       {timeout_at}, '', '', true, '', {created_at}, 0
FROM generate_series(1, %(count)s) AS n
"""
SEED_TAGS_SQL = """
INSERT INTO waitpoints_waitpointtag (waitpoint_id, environment_id, name, position)
SELECT %(prefix)s || lpad(n::text, 12, '0'), %(env)s, 'tag' || (n %% 50), 0
FROM generate_series(1, %(count)s) AS n
"""


def environment_id(conn) -> int:
    return conn.execute("SELECT id FROM waitpoints_environment WHERE slug = 'bench'").fetchone()[0]


def lateness(db_url: str, count: int) -> list[float]:
    """Tokens due over the next 5 s; a worker with beat times them out; seconds late each."""
    env = server_env(db_url, DJANGO_SETTINGS_MODULE="config.settings")
    # A schedule file of its own: two benchmarks at once must not share beat's shelve.
    schedule = os.path.join(tempfile.mkdtemp(prefix="waitpoints-bench-"), "beat")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--pool=solo",
         "--loglevel=WARNING", f"--schedule={schedule}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(3)  # worker and beat up
        with psycopg.connect(db_url, autocommit=True) as conn:
            sql = SEED_SQL.format(
                status="'WAITING'",
                timeout_at="now() + interval '2 seconds' + (n %% 5000) * interval '1 millisecond'",
                created_at="now()",
            )
            conn.execute(
                sql, {"prefix": "waitpoint_late", "env": environment_id(conn), "count": count}
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                left = conn.execute(
                    "SELECT count(*) FROM waitpoints_waitpoint WHERE id LIKE 'waitpoint_late%%' AND status = 'WAITING'"
                ).fetchone()[0]
                if left == 0:
                    break
                time.sleep(0.5)
            # The audit row records when the sweeper acted (completedAt reports the deadline).
            rows = conn.execute(
                "SELECT extract(epoch FROM a.created_at - w.timeout_at) FROM waitpoints_waitpoint w "
                "JOIN waitpoints_auditevent a ON a.waitpoint_id = w.id AND a.action = 'timed_out' "
                "WHERE w.id LIKE 'waitpoint_late%%'"
            ).fetchall()
        return [float(row[0]) for row in rows]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)


SEED_BLOCKED_RUNS_SQL = """
INSERT INTO waitpoints_run
  (id, environment_id, task_id, status, attempt_count, tags, created_at, updated_at)
SELECT %(run_prefix)s || lpad(n::text, 12, '0'), %(env)s, 'bench-wait', 'WAITING', 1, '[]', now(), now()
FROM generate_series(1, %(count)s) AS n;
INSERT INTO waitpoints_runblock (run_id, waitpoint_id, created_at)
SELECT %(run_prefix)s || lpad(n::text, 12, '0'), %(prefix)s || lpad(n::text, 12, '0'), now()
FROM generate_series(1, %(count)s) AS n
"""

# P4's floor: what PostgreSQL alone takes to change as many token rows and run rows, bare (one
# UPDATE each, by primary-key range, no audit, no block, no message), on rows seeded alike.
FLOOR_SQL = """
UPDATE waitpoints_waitpoint SET status = 'TIMED_OUT' WHERE id BETWEEN %(first)s AND %(last)s;
UPDATE waitpoints_run SET status = 'QUEUED' WHERE id BETWEEN %(first_run)s AND %(last_run)s
"""


def sweep_interval(db_url: str) -> float:
    """The beat interval the P3 worker runs with (WAITPOINTS_SWEEP_INTERVAL_SECONDS)."""
    script = "from django.conf import settings; print(settings.WAITPOINTS_SWEEP_INTERVAL_SECONDS)"
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=server_env(db_url, DJANGO_SETTINGS_MODULE="config.settings"),
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(out.split()[-1])


_MASS_EXPIRIES = itertools.count(1)


def seed_due(conn, *, prefix: str, run_prefix: str, count: int, due_in: str) -> None:
    """`count` WAITING tokens due `due_in` from now, each with a WAITING run blocked on it."""
    sql = SEED_SQL.format(
        status="'WAITING'", timeout_at=f"now() + interval '{due_in}'", created_at="now()"
    )
    env = environment_id(conn)
    conn.execute(sql, {"prefix": prefix, "env": env, "count": count})
    for statement in SEED_BLOCKED_RUNS_SQL.split(";"):
        conn.execute(
            statement, {"env": env, "count": count, "prefix": prefix, "run_prefix": run_prefix}
        )


def mass_expiry(db_url: str, count: int) -> dict[str, float]:
    """`count` tokens, each with a run blocked on it, all due at once; one sweeper call. Then
    the floor (FLOOR_SQL) on `count` other tokens and runs seeded alike in the same tables."""
    tag = f"{next(_MASS_EXPIRIES)}_"  # ids of their own for each call on one database
    sweep_prefix, sweep_runs = f"waitpoint_due{tag}", f"run_due{tag}"
    floor_prefix, floor_runs = f"waitpoint_floor{tag}", f"run_floor{tag}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        seed_due(conn, prefix=sweep_prefix, run_prefix=sweep_runs, count=count, due_in="1 second")
        seed_due(conn, prefix=floor_prefix, run_prefix=floor_runs, count=count, due_in="1 day")
        conn.execute("VACUUM ANALYZE")
    time.sleep(1.2)
    script = (
        "import time; from waitpoints.tokens.services.expiry import waitpoints_sweep_due; "
        "started = time.perf_counter(); "
        "n = waitpoints_sweep_due(); print(n, time.perf_counter() - started)"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=server_env(db_url, DJANGO_SETTINGS_MODULE="config.settings"),
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    with psycopg.connect(db_url) as conn:
        started = time.perf_counter()
        for statement in FLOOR_SQL.split(";"):
            conn.execute(
                statement,
                {
                    "first": f"{floor_prefix}{1:012d}", "last": f"{floor_prefix}{count:012d}",
                    "first_run": f"{floor_runs}{1:012d}", "last_run": f"{floor_runs}{count:012d}",
                },
            )  # fmt: skip
        conn.commit()
        floor_seconds = time.perf_counter() - started
    with psycopg.connect(db_url, autocommit=True) as conn:
        queued = conn.execute(
            "SELECT count(*) FROM waitpoints_run WHERE id LIKE %s AND status = 'QUEUED'",
            [f"{sweep_runs}%"],
        ).fetchone()[0]
    seconds = float(out[-1])
    return {
        "expired": int(out[-2]),
        "seconds": seconds,
        "runs_queued": queued,
        "floor_seconds": floor_seconds,
        "ratio": seconds / floor_seconds,
    }


def list_latency(db_url: str, count: int, requests: int) -> tuple[list[float], str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        env = environment_id(conn)
        sql = SEED_SQL.format(
            status="(ARRAY['WAITING', 'COMPLETED', 'TIMED_OUT'])[1 + n %% 3]",
            timeout_at="now() + interval '1 day'",
            created_at="now() - (n * interval '2 seconds')",
        )
        conn.execute(sql, {"prefix": "waitpoint_list", "env": env, "count": count})
        conn.execute(SEED_TAGS_SQL, {"prefix": "waitpoint_list", "env": env, "count": count})
        conn.execute("VACUUM ANALYZE")
    script = f"""
import time, json
from django.db import connection
from waitpoints.tokens.selectors import paginate, token_list
from waitpoints.models import Environment
from waitpoints.tokens.selectors import TokenFilters
from django.utils import timezone
from datetime import timedelta
env = Environment.objects.get(slug="bench")
samples = []
for i in range({requests}):
    filters = TokenFilters(statuses=["WAITING"], any_tags=[f"tag{{i % 50}}", f"tag{{(i + 1) % 50}}"],
                           created_from=timezone.now() - timedelta(days=1))
    started = time.perf_counter()
    page = paginate(token_list(environments=env, filters=filters), size=25)
    samples.append((time.perf_counter() - started) * 1000)
qs = token_list(environments=env, filters=filters).order_by("-created_at", "-id")[:26]
print(json.dumps({{"samples": samples, "plan": qs.explain(analyze=True)}}))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=server_env(db_url, DJANGO_SETTINGS_MODULE="config.settings"),
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    return result["samples"], result["plan"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lateness-tokens", type=int, default=1000)
    parser.add_argument("--due-tokens", type=int, default=100_000)
    parser.add_argument(
        "--due-tokens-large",
        type=int,
        default=1_000_000,
        help="P4 once more at this size (0: skip)",
    )
    parser.add_argument("--list-tokens", type=int, default=1_000_000)
    parser.add_argument("--list-requests", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_BROKER_URL", BROKER_URL)

    db_url = recreate_database()
    # P4 leaves its wake messages queued; the next run's P3 worker must not start on them.
    redis.Redis.from_url(BROKER_URL).flushdb()
    manage(db_url, "migrate", "--verbosity=0")
    manage(db_url, "create_api_key", "--environment", "bench")

    late = lateness(db_url, args.lateness_tokens)
    interval = sweep_interval(db_url)
    expiry = mass_expiry(db_url, args.due_tokens)
    samples, plan = list_latency(db_url, args.list_tokens, args.list_requests)
    # Last: its 2,000,000 extra tokens would change the plan P5 measures.
    large = mass_expiry(db_url, args.due_tokens_large) if args.due_tokens_large else None
    figures = {
        "p3_lateness_p50_s": percentile(late, 0.5),
        "p3_lateness_p99_s": percentile(late, 0.99),
        "p3_tokens": len(late),
        "p3_sweep_interval_s": interval,
        "p4_expired": expiry["expired"],
        "p4_runs_queued": expiry["runs_queued"],
        "p4_seconds": expiry["seconds"],
        "p4_floor_seconds": expiry["floor_seconds"],
        "p4_ratio": expiry["ratio"],
        **({f"p4_large_{k}": v for k, v in large.items()} if large else {}),
        "p5_tokens": args.list_tokens,
        "p5_p50_ms": percentile(samples, 0.5),
        "p5_p95_ms": percentile(samples, 0.95),
        "p5_plan": plan,
    }

    print("\nTimeouts and lists (PostgreSQL)")
    print(
        f"P3 timeout lateness over {len(late)} tokens (beat every {interval:g} s): "
        f"p50 {figures['p3_lateness_p50_s']:.3f} s, p99 {figures['p3_lateness_p99_s']:.3f} s"
    )
    for result in filter(None, (expiry, large)):
        print(
            f"P4 {result['expired']} tokens due at once -> TIMED_OUT and {result['runs_queued']} "
            f"blocked runs re-enqueued in {result['seconds']:.2f} s; the floor (bare UPDATEs of "
            f"as many tokens and runs) {result['floor_seconds']:.2f} s: {result['ratio']:.2f}x"
        )
    print(
        f"P5 list WAITING + 2 tags + 1d period at {args.list_tokens:,} tokens: "
        f"p50 {figures['p5_p50_ms']:.1f} ms, p95 {figures['p5_p95_ms']:.1f} ms"
    )
    print("P5 plan:\n" + plan)
    print("BENCH_JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
