"""Does purging old finished tokens slow the API? Create-token req/s with and without a purge.

Seeds `--tokens` finished tokens older than the retention (two tags and one audit event each),
measures create req/s through gunicorn, then again while `manage.py purge --older-than 30d` runs
in another process, alternating windows so both see the same machine load.

    BENCH_BROKER_URL=redis://127.0.0.1:6379/<db> .venv/bin/python -m bench.bench_purge_impact \
        [--tokens 1000000] [--seconds 10] [--windows 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import psycopg

from bench.bench_api import POST_JSON
from bench.common import ROOT, bench_database, gunicorn, manage, recreate_database, server_env, wrk

SEED_FINISHED_SQL = """
INSERT INTO waitpoints_waitpoint
  (id, environment_id, kind, status, output_is_error, timeout_at, completed_at, completed_via,
   completed_by, idempotency_key_active, title, created_at, reminders_sent)
SELECT 'waitpoint_old' || lpad(n::text, 12, '0'), %(env)s, 'MANUAL', 'COMPLETED', false,
       now() - interval '39 days', now() - interval '40 days', 'api', '', true, '',
       now() - interval '41 days' + n * interval '1 millisecond', 0
FROM generate_series(1, %(count)s) AS n;
INSERT INTO waitpoints_waitpointtag (waitpoint_id, environment_id, name, position)
SELECT 'waitpoint_old' || lpad(n::text, 12, '0'), %(env)s, 'tag' || (n %% 20 + t), t
FROM generate_series(1, %(count)s) AS n, generate_series(0, 1) AS t;
INSERT INTO waitpoints_auditevent (waitpoint_id, action, via, actor, created_at)
SELECT 'waitpoint_old' || lpad(n::text, 12, '0'), 'completed', 'api', 'bench',
       now() - interval '40 days'
FROM generate_series(1, %(count)s) AS n;
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    db_url = recreate_database(bench_database("purge"))
    manage(db_url, "migrate", "--verbosity=0")
    key = manage(db_url, "create_api_key", "--environment", "bench").strip().splitlines()[-1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        env = conn.execute("SELECT id FROM waitpoints_environment WHERE slug = 'bench'").fetchone()
        started = time.perf_counter()
        for statement in SEED_FINISHED_SQL.split(";"):
            if statement.strip():
                conn.execute(statement, {"env": env[0], "count": args.tokens})
        print(f"seeded {args.tokens:,} finished tokens in {time.perf_counter() - started:.0f} s")

    create_env = {"BODY": '{"timeout": "1h", "tags": ["bench"]}', "KEY": key}
    alone: list[float] = []
    purging: list[float] = []
    with gunicorn(db_url, WAITPOINTS_RATE_LIMITS="off") as base:
        url = f"{base}/api/v1/waitpoints/tokens"
        wrk(url, POST_JSON, seconds=2, connections=args.connections, env=create_env)
        for _ in range(args.windows):
            alone.append(
                wrk(
                    url,
                    POST_JSON,
                    seconds=args.seconds,
                    connections=args.connections,
                    env=create_env,
                )
            )
        purge = subprocess.Popen(
            [sys.executable, "manage.py", "purge", "--older-than", "30d"],
            cwd=ROOT,
            env=server_env(db_url),
            stdout=subprocess.PIPE,
            text=True,
        )
        purge_started = time.perf_counter()
        while purge.poll() is None and len(purging) < args.windows:
            purging.append(
                wrk(
                    url,
                    POST_JSON,
                    seconds=args.seconds,
                    connections=args.connections,
                    env=create_env,
                )
            )
        output, _ = purge.communicate()
        purge_seconds = time.perf_counter() - purge_started
    ratio = statistics.median(purging) / statistics.median(alone) if purging else float("nan")
    print(f"load {os.getloadavg()[0]:.1f}")
    print(f"create alone (req/s): {', '.join(f'{value:.0f}' for value in alone)}")
    print(f"create during purge (req/s): {', '.join(f'{value:.0f}' for value in purging)}")
    print(f"ratio during/alone (medians): {ratio:.2f}x; purge took {purge_seconds:.0f} s")
    print(output.strip().splitlines()[-1] if output.strip() else "(purge printed nothing)")


if __name__ == "__main__":
    main()
