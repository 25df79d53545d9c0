"""Token API throughput and list latency, as in production (gunicorn + PostgreSQL).

    .venv/bin/python -m bench.bench_api [--seconds 10] [--tokens 100000]

Prints create/complete req/s beside a baseline measured in the same run (a bare DRF endpoint
doing one INSERT on the same server) and list latency p50/p95 with --tokens tokens present.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import psycopg
import requests

from bench.common import gunicorn, manage, percentile, recreate_database, wrk

POST_JSON = """
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEY") or "")
"""

COMPLETE_EACH_ONCE = """
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  local id = ids[((i - 1) % #ids) + 1]
  return wrk.format("POST", "/api/v1/waitpoints/tokens/" .. id .. "/complete",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("KEY")},
    '{"data": {"approved": true}}')
end
"""

SEED_TOKENS_SQL = """
INSERT INTO waitpoints_waitpoint
  (id, environment_id, kind, status, output_is_error, timeout_at, completed_via, completed_by,
   idempotency_key_active, title, created_at, reminders_sent)
SELECT 'waitpoint_seed' || lpad(n::text, 12, '0'), %(env)s, 'MANUAL',
       (ARRAY['WAITING', 'COMPLETED', 'TIMED_OUT'])[1 + n %% 3], false,
       now() + interval '1 day', '', '', true, '',
       now() - (n || ' seconds')::interval, 0
FROM generate_series(1, %(count)s) AS n;
INSERT INTO waitpoints_waitpointtag (waitpoint_id, environment_id, name, position)
SELECT 'waitpoint_seed' || lpad(n::text, 12, '0'), %(env)s, 'tag' || (n %% 20), 0
FROM generate_series(1, %(count)s) AS n;
ANALYZE;
"""

# A moderation token as the dashboard's users create them: every word goes into the search index.
RICH_TOKEN = {
    "timeout": "1h",
    "tags": ["bench"],
    "title": "Refund order #5010 for customer harbor",
    "context": {
        "post_text": "The parcel arrived late and the box was damaged; I would like a refund.",
        "amount": 129.5,
        "url": "https://shop.example.com/orders/5010",
        "customer": {"name": "Amina Haddad", "email": "amina@example.com"},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--list-requests", type=int, default=200)
    args = parser.parse_args()

    db_url = recreate_database()
    manage(db_url, "migrate", "--verbosity=0")
    key = manage(db_url, "create_api_key", "--environment", "bench").strip().splitlines()[-1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, body text, created_at timestamptz)"
        )

    with gunicorn(db_url) as base:
        warm = {"BODY": '{"timeout": "1h", "tags": ["bench"]}', "KEY": key}
        wrk(f"{base}/bench/baseline", POST_JSON, seconds=2, connections=args.connections, env=warm)
        baseline = wrk(
            f"{base}/bench/baseline",
            POST_JSON,
            seconds=args.seconds,
            connections=args.connections,
            env=warm,
        )

        def create_rps(body: dict[str, str]) -> float:
            return wrk(
                f"{base}/api/v1/waitpoints/tokens",
                POST_JSON,
                seconds=args.seconds,
                connections=args.connections,
                env=body,
            )

        # What the inbox search's full-text index costs a create: a token with a title and a
        # context, then both bodies again once the index is dropped (docs/benchmarks.md).
        rich = {"BODY": json.dumps(RICH_TOKEN), "KEY": key}
        create, create_rich = create_rps(warm), create_rps(rich)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("DROP INDEX waitpoint_search_idx")
        create_unindexed, create_rich_unindexed = create_rps(warm), create_rps(rich)

        # Complete: each request completes a different WAITING token (enough for the whole run).
        with psycopg.connect(db_url) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM waitpoints_waitpoint WHERE status = 'WAITING'"
                )
            ]
        needed = int(create * args.seconds * 1.5)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        while len(ids) < needed:
            ids.append(
                session.post(f"{base}/api/v1/waitpoints/tokens", json={"timeout": "1h"}).json()[
                    "id"
                ]
            )
        with tempfile.NamedTemporaryFile("w", delete=False) as handle:
            handle.write("\n".join(ids))
        complete = wrk(
            base,
            COMPLETE_EACH_ONCE,
            seconds=args.seconds,
            connections=args.connections,
            env={"IDS_FILE": handle.name, "KEY": key},
        )
        os.unlink(handle.name)

        with psycopg.connect(db_url, autocommit=True) as conn:
            env_id = conn.execute(
                "SELECT id FROM waitpoints_environment WHERE slug = 'bench'"
            ).fetchone()[0]
            for statement in SEED_TOKENS_SQL.split(";"):
                if statement.strip():
                    conn.execute(statement, {"env": env_id, "count": args.tokens})
            total = conn.execute("SELECT count(*) FROM waitpoints_waitpoint").fetchone()[0]
        list_url = f"{base}/api/v1/waitpoints/tokens"
        queries = {
            "no filter": {},
            "status+tags+period": {
                "filter[status]": "WAITING",
                "filter[tags]": "tag7,tag8",
                "filter[createdAt][period]": "1d",
            },
        }
        latencies: dict[str, list[float]] = {}
        for name, params in queries.items():
            session.get(list_url, params=params)
            samples = []
            for _ in range(args.list_requests):
                started = time.perf_counter()
                response = session.get(list_url, params=params)
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            latencies[name] = samples

    print(
        f"\nWaitpoints API benchmark (gunicorn 2 workers, PostgreSQL, wrk -c{args.connections}, {args.seconds}s each)"
    )
    print(f"{'measure':<42}{'value':>12}{'ratio to baseline':>20}")
    print(f"{'baseline: bare DRF INSERT (req/s)':<42}{baseline:>12.0f}{1:>20.2f}")
    print(f"{'create token (req/s)':<42}{create:>12.0f}{create / baseline:>20.2f}")
    print(
        f"{'create, title + context (req/s)':<42}{create_rich:>12.0f}{create_rich / baseline:>20.2f}"
    )
    print(
        f"{'create, no search index (req/s)':<42}{create_unindexed:>12.0f}"
        f"{create_unindexed / baseline:>20.2f}"
    )
    print(
        f"{'create, title + context, no index (req/s)':<42}{create_rich_unindexed:>12.0f}"
        f"{create_rich_unindexed / baseline:>20.2f}"
    )
    print(f"{'complete token (req/s)':<42}{complete:>12.0f}{complete / baseline:>20.2f}")
    for name, samples in latencies.items():
        label = f"list {name}, {total} tokens (ms)"
        p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
        print(f"{label:<46}p50 {p50:.1f} / p95 {p95:.1f}")

    figures = {
        "p1_baseline_rps": baseline,
        "p1_create_rps": create,
        "p1_complete_rps": complete,
        "p1_create_rich_rps": create_rich,
        "p1_create_unindexed_rps": create_unindexed,
        "p1_create_rich_unindexed_rps": create_rich_unindexed,
        "p1_list_tokens": total,
        **{
            f"p1_list_{name.replace(' ', '_').replace('+', '_')}_{q}_ms": percentile(samples, f)
            for name, samples in latencies.items()
            for q, f in (("p50", 0.5), ("p95", 0.95))
        },
    }
    print("BENCH_JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
