"""Operations bench: the cost of a `/metrics` scrape's database part, and purge throughput, at
scale. Not part of `make bench` (it fills a database of its own):

    createdb waitpoints_ops_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/waitpoints_ops_bench \
        python -m bench.bench_ops --tokens 1000000 --runs 100000 --purge 200000

Tokens: 10 % WAITING (a few hundred due, not swept), the rest finished 40 days ago with two
tags and one audit event each; the scrape is timed warm (median of 5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from waitpoints.models import AuditEvent, Environment, Run, Waitpoint, WaitpointTag
    from waitpoints.ops import retention
    from waitpoints.ops.metrics import DatabaseCollector

    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--purge", type=int, default=200_000, help="finished tokens to purge")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    environments = [Environment.objects.get_or_create(slug=s, name=s)[0] for s in ("a", "b")]
    wp, tag, audit, run = (m._meta.db_table for m in (Waitpoint, WaitpointTag, AuditEvent, Run))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {wp}, {tag}, {audit}, {run} CASCADE")
        cursor.execute(
            f"""INSERT INTO {wp} (id, environment_id, kind, status, output_is_error, timeout_at,
                 completed_at, completed_via, completed_by, idempotency_key_active, title,
                 created_at, reminders_sent)
            SELECT 'waitpoint_bench' || i, %s + (i %% 2), 'MANUAL',
                   CASE WHEN i %% 10 = 0 THEN 'WAITING' ELSE 'COMPLETED' END, false,
                   CASE WHEN i %% 10 = 0 THEN now() + interval '1 day'
                        - (CASE WHEN i %% 1000 = 0 THEN interval '2 days' ELSE interval '0' END)
                        ELSE now() - interval '39 days' END,
                   CASE WHEN i %% 10 = 0 THEN NULL ELSE now() - interval '40 days' END,
                   CASE WHEN i %% 10 = 0 THEN '' ELSE 'api' END, '', true, '',
                   now() - interval '41 days' + i * interval '1 millisecond', 0
            FROM generate_series(1, %s) AS i""",
            [environments[0].id, args.tokens],
        )
        cursor.execute(
            f"""INSERT INTO {tag} (waitpoint_id, environment_id, name, position)
            SELECT id, environment_id, t.name, t.position FROM {wp},
                   (VALUES ('a', 0), ('b', 1)) AS t(name, position)"""
        )
        cursor.execute(
            f"""INSERT INTO {audit} (waitpoint_id, action, via, actor, created_at)
            SELECT id, 'completed', 'api', '', completed_at FROM {wp}
            WHERE status = 'COMPLETED'"""
        )
        cursor.execute(
            f"""INSERT INTO {run} (id, environment_id, task_id, status, attempt_count, tags,
                 created_at, updated_at)
            SELECT 'run_bench' || i, %s, 't',
                   (ARRAY['QUEUED','EXECUTING','WAITING','COMPLETED','FAILED','CANCELED'])[1 + i %% 6],
                   1, '[]', now(), now()
            FROM generate_series(1, %s) AS i""",
            [environments[0].id, args.runs],
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"filled {args.tokens} tokens, {args.runs} runs in {time.perf_counter() - started:.0f} s")

    collector = DatabaseCollector()
    timings = []
    for _ in range(6):
        started = time.perf_counter()
        families = list(collector.collect())
        timings.append(time.perf_counter() - started)
    print(
        f"scrape (database part) at {args.tokens} tokens / {args.runs} runs: "
        f"median {statistics.median(timings[1:]) * 1000:.1f} ms, "
        f"max {max(timings[1:]) * 1000:.1f} ms ({len(families)} families)"
    )

    if args.purge:
        with connection.cursor() as cursor:  # keep only `--purge` finished tokens purgeable
            cursor.execute(
                f"""UPDATE {wp} SET completed_at = now() - interval '1 day'
                WHERE status <> 'WAITING' AND id NOT IN (
                    SELECT id FROM {wp} WHERE status <> 'WAITING' ORDER BY created_at LIMIT %s)""",
                [args.purge],
            )
        started = time.perf_counter()
        counts = retention.purge(older_than=timedelta(days=30))
        elapsed = time.perf_counter() - started
        print(
            f"purge: {counts['tokens']} tokens ({counts['token tags']} tags, "
            f"{counts['audit events']} audit events) in {elapsed:.1f} s = "
            f"{counts['tokens'] / elapsed:.0f} tokens/s, batches of 1000"
        )


if __name__ == "__main__":
    main()
