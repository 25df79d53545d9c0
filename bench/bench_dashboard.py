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
import os
import random
import statistics
import sys
import time
from datetime import timedelta
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


def fill(total: int, *, reset: bool) -> None:
    from django.utils import timezone

    from waitpoints.environments.services import environment_get_or_create
    from waitpoints.models import (
        CompletionVia,
        Waitpoint,
        WaitpointKind,
        WaitpointStatus,
        WaitpointTag,
    )

    if reset:
        Waitpoint.objects.all().delete()
    existing = Waitpoint.objects.filter(kind=WaitpointKind.MANUAL).count()
    if existing >= total:
        print(f"database holds {existing} tokens (no fill needed)")
        return
    environments = [environment_get_or_create(slug=slug) for slug in ("prod", "staging", "dev")]
    tag_pool = ["moderation", "refunds", "deploy", "urgent", "vip", "marketing", "legal"]
    rng = random.Random(42)
    now = timezone.now()
    started = time.perf_counter()
    batch: list[Waitpoint] = []
    tags: list[WaitpointTag] = []
    for index in range(total - existing):
        environment = environments[index % 3]
        created_at = now - timedelta(seconds=index * 7)
        roll = rng.random()
        fields = {}
        if roll < 0.5:  # waiting
            fields["timeout_at"] = now + timedelta(hours=rng.randint(1, 72))
        elif roll < 0.85:
            fields.update(
                status=WaitpointStatus.COMPLETED,
                timeout_at=created_at + timedelta(days=1),
                completed_at=created_at + timedelta(minutes=5),
                completed_via=CompletionVia.DASHBOARD,
                completed_by="alice",
                output={
                    "approved": True,
                    "status": "approved",
                    "comment": "",
                    "reviewedBy": "alice",
                },
            )
        else:
            fields.update(
                status=WaitpointStatus.TIMED_OUT,
                timeout_at=created_at + timedelta(hours=1),
                completed_at=created_at + timedelta(hours=1),
                completed_via=CompletionVia.TIMEOUT,
                output_is_error=True,
            )
        waitpoint = Waitpoint(
            environment=environment,
            title=f"Review item #{index}",
            context={"index": index},
            created_at=created_at,
            **fields,
        )
        batch.append(waitpoint)
        for position, name in enumerate(rng.sample(tag_pool, rng.randint(1, 3))):
            tags.append(
                WaitpointTag(
                    waitpoint=waitpoint, environment=environment, name=name, position=position
                )
            )
    Waitpoint.objects.bulk_create(batch, batch_size=2000)
    WaitpointTag.objects.bulk_create(tags, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"filled {len(batch)} tokens and {len(tags)} tags in {time.perf_counter() - started:.1f} s"
    )


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
        ("id search (12 chars)", {"status": "", "q": some_id[-12:]}, {}),
        ("second page (cursor)", {"status": "", "after": after}, {}),
        ("htmx partial (self-refresh)", {}, {"HTTP_HX_REQUEST": "true"}),
    ]
    total = Waitpoint.objects.filter(kind=WaitpointKind.MANUAL).count()
    print(
        f"\ninbox render over {total} tokens, {repeat} runs each (Django test client, full stack)"
    )
    print(f"{'view':40} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'sql ms':>7} {'rows':>5}")
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
        print(
            f"{label:40} {statistics.median(timings):10.1f} {p95:8.1f} "
            f"{len(captured.captured_queries):8d} {sql_ms:7.1f} {rows:5d}"
        )


if __name__ == "__main__":
    main()
