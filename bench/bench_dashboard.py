"""How fast the reviewer inbox renders with 10,000 tokens in PostgreSQL.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wp_bench \\
        .venv/bin/python bench/bench_dashboard.py [--tokens 10000] [--repeat 30] [--reset]

Creates the database if needed, migrates it, fills it once with tokens spread over three
environments (mixed statuses, 1–3 tags each), then renders the inbox through Django's test
client (the whole stack: middleware, session, auth, selectors, templates) for several filter
views and prints the median and 95th percentile time and the number of SQL queries of each.

The rows are inserted with bulk_create (fixture data for a measurement, not an application
write path), which is much faster than 10,000 calls to token_create.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/wp_bench"


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reset", action="store_true", help="delete every token first")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"  # no query log, no debug toolbar-style overhead

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    fill(args.tokens, reset=args.reset)
    measure(args.repeat)


# Words of the generated titles and contexts: searches for a rare word ("chargeback", about 1 token
# in 2,000) and a common one ("refund", 1 in 4) bracket what moderators type.
TITLES = [
    "Refund order #{n} for customer {word}",
    "Moderate comment #{n} on post about {word}",
    "Deploy release {n} of the {word} service",
    "Approve invoice {n} from {word} supplies",
]
WORDS = ["alpha", "bravo", "delta", "harbor", "meadow", "quartz", "summit", "willow"]


def fill(total: int, *, reset: bool) -> None:
    """Inserts the tokens with one INSERT … SELECT generate_series per batch: fixture data for
    a measurement (1M tokens in about a minute), not an application write path."""
    from django.db import connection

    from waitpoints.environments.services import environment_get_or_create
    from waitpoints.models import Waitpoint, WaitpointKind, WaitpointTag

    if reset:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Waitpoint._meta.db_table} CASCADE")
    existing = Waitpoint.objects.filter(kind=WaitpointKind.MANUAL).count()
    if existing >= total:
        print(f"database holds {existing} tokens (no fill needed)")
        return
    environments = [environment_get_or_create(slug=slug) for slug in ("prod", "staging", "dev")]
    env_ids = [environment.pk for environment in environments]
    started = time.perf_counter()
    batch = 100_000
    with connection.cursor() as cursor:
        for first in range(existing, total, batch):
            last = min(total, first + batch) - 1
            cursor.execute(
                _FILL_SQL.format(
                    waitpoints=Waitpoint._meta.db_table, tags=WaitpointTag._meta.db_table
                ),
                {
                    "first": first,
                    "last": last,
                    "envs": env_ids,
                    "titles": TITLES,
                    "words": WORDS,
                    "tag_pool": ["moderation", "refunds", "deploy", "urgent", "vip", "legal"],
                },
            )
        cursor.execute("VACUUM ANALYZE" if connection.get_autocommit() else "ANALYZE")
    print(f"filled {total - existing} tokens in {time.perf_counter() - started:.1f} s")


_FILL_SQL = """
WITH made AS (
    INSERT INTO {waitpoints} (id, environment_id, kind, status, output, output_is_error,
        timeout_at, completed_at, completed_via, completed_by, idempotency_key,
        idempotency_key_hash, idempotency_key_expires_at, idempotency_key_active, title,
        context, display, created_at, reminders_sent)
    SELECT 'waitpoint_' || substr(md5(g::text), 1, 27), (%(envs)s::int[])[1 + g %% 3], 'MANUAL',
        CASE WHEN g %% 20 < 10 THEN 'WAITING' WHEN g %% 20 < 17 THEN 'COMPLETED'
             ELSE 'TIMED_OUT' END,
        CASE WHEN g %% 20 BETWEEN 10 AND 16
             THEN '{{"approved": true, "status": "approved", "comment": ""}}'::jsonb END,
        g %% 20 >= 17,
        CASE WHEN g %% 20 < 10 THEN now() + interval '3 days'
             ELSE now() - g * interval '7 seconds' + interval '1 hour' END,
        CASE WHEN g %% 20 >= 10 THEN now() - g * interval '7 seconds' + interval '5 minutes' END,
        CASE WHEN g %% 20 >= 17 THEN 'timeout' WHEN g %% 20 >= 10 THEN 'dashboard' ELSE '' END,
        CASE WHEN g %% 20 BETWEEN 10 AND 16 THEN 'alice' ELSE '' END,
        NULL, NULL, NULL, true,
        replace(replace((%(titles)s::text[])[1 + g %% 4], '{{n}}', g::text), '{{word}}',
                (%(words)s::text[])[1 + (g / 4) %% 8]),
        jsonb_build_object(
            'post_text', 'Customer ' || (%(words)s::text[])[1 + (g / 3) %% 8] || ' writes: '
                || CASE WHEN g %% 2000 = 7 THEN 'please reverse this chargeback'
                        WHEN g %% 4 = 0 THEN 'I want a refund for my order'
                        ELSE 'the item arrived late and damaged' END,
            'amount', (g %% 50000) / 100.0,
            'url', 'https://shop.example.com/orders/' || g),
        '{{"amount": "money:EUR"}}'::jsonb,
        now() - g * interval '7 seconds', 0
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
    RETURNING id, environment_id
)
INSERT INTO {tags} (waitpoint_id, environment_id, name, position)
SELECT made.id, made.environment_id,
       (%(tag_pool)s::text[])[1 + abs(hashtext(made.id)) %% 6], 0
FROM made
"""


def measure(repeat: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from waitpoints.models import Waitpoint, WaitpointKind

    user, _ = User.objects.get_or_create(username="bench-reviewer")
    user.groups.add(Group.objects.get(name="Reviewers"))
    client = Client()
    client.force_login(user)
    some_id = Waitpoint.objects.filter(kind=WaitpointKind.MANUAL).values_list("id", flat=True)[500]
    second_page = client.get("/dashboard/", {"status": ""}).content.decode()
    after = second_page.split("after=", 1)[1].split('"', 1)[0].split("&", 1)[0]

    views = [
        ("inbox, default (WAITING), 25 rows", {}, {}),
        ("any status, 100 rows", {"status": "", "size": "100"}, {}),
        ("tags has-all (moderation, urgent)", {"status": "", "tags": "moderation, urgent"}, {}),
        ("environment=staging, WAITING", {"env": "staging"}, {}),
        ("period 1d + COMPLETED", {"status": "COMPLETED", "period": "1d"}, {}),
        ("id search (its first 12 characters)", {"status": "", "q": some_id[:22]}, {}),
        ("search: a rare word (chargeback)", {"status": "", "q": "chargeback"}, {}),
        ("search: a common word, WAITING", {"q": "refund"}, {}),
        ("search: two words, any status", {"status": "", "q": "harbor invoice"}, {}),
        ("search: a word in no token", {"status": "", "q": "zeppelin"}, {}),
        ("search: one environment, a common word", {"q": "refund", "env": "staging"}, {}),
        ("second page (cursor)", {"status": "", "after": after}, {}),
        ("htmx partial (self-refresh)", {}, {"HTTP_HX_REQUEST": "true"}),
    ]
    total = Waitpoint.objects.filter(kind=WaitpointKind.MANUAL).count()
    figures: dict[str, float] = {"tokens": total}
    print(
        f"\ninbox render over {total} tokens, {repeat} runs each (Django test client, full stack)"
    )
    print(
        f"{'view':40} {'median ms':>10} {'p95 ms':>8} {'× default':>9} {'queries':>8} "
        f"{'sql ms':>7} {'rows':>5}"
    )
    for label, params, headers in views:
        for _ in range(3):  # warm caches and the connection
            client.get("/dashboard/", params, **headers)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get("/dashboard/", params, **headers)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/dashboard/", params, **headers)
        rows = response.content.decode().count('id="row-')
        sql_ms = sum(float(query["time"]) for query in captured.captured_queries) * 1000
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        figures.setdefault("default_p95_ms", p95)  # the first view is the baseline
        key = re.sub(r"\W+", "_", label.split(",")[0].split("(")[0].strip()).strip("_").lower()
        figures[f"{key}_p95_ms"] = p95
        figures[f"{key}_queries"] = len(captured.captured_queries)
        print(
            f"{label:40} {statistics.median(timings):10.1f} {p95:8.1f} "
            f"{p95 / figures['default_p95_ms']:9.2f} "
            f"{len(captured.captured_queries):8d} {sql_ms:7.1f} {rows:5d}"
        )
    print("BENCH_JSON " + json.dumps(figures))


if __name__ == "__main__":
    main()
