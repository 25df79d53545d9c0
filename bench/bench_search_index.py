"""Full-text or trigram index for the inbox search: size, build time, insert cost and query time.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wp_bench \\
        .venv/bin/python bench/bench_search_index.py [--rows 100000]

Run after bench/bench_dashboard.py has filled the database (its tokens have realistic titles and
contexts). Copies `--rows` of them into scratch tables with no search index, the full-text index
of migration 0007 or a pg_trgm index on the same text, and times inserting them, building each
index over the copy, and searching a rare and a common word (newest 26 matches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg

FTS = (
    "(to_tsvector('simple'::regconfig, title::text) || jsonb_to_tsvector('simple'::regconfig, "
    "COALESCE(context, '{}'::jsonb), '[\"string\", \"numeric\"]'::jsonb))"
)
TRGM = "((title::text || ' ' || COALESCE(context::text, '')))"
INDEXES = {
    "none": None,
    "full-text (GIN tsvector)": f"USING gin ({FTS})",
    "trigram (GIN gin_trgm_ops)": f"USING gin ({TRGM} gin_trgm_ops)",
}
SEARCHES = {
    "full-text (GIN tsvector)": f"{FTS} @@ to_tsquery('simple', %s)",
    "trigram (GIN gin_trgm_ops)": f"{TRGM} ILIKE %s",
}
WORDS = {"rare (chargeback, 1 in 2,000)": "chargeback", "common (refund, 1 in 4)": "refund"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--single-inserts", type=int, default=5000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wp_bench")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        print(f"{args.rows} tokens copied from waitpoints_waitpoint")
        print(f"{'index':28} {'insert s':>9} {'build s':>8} {'size MB':>8}  search p50 ms")
        for name, using in INDEXES.items():
            conn.execute("DROP TABLE IF EXISTS search_scratch")
            conn.execute(
                "CREATE TABLE search_scratch AS SELECT * FROM waitpoints_waitpoint LIMIT 0"
            )
            if using:
                conn.execute(f"CREATE INDEX search_scratch_idx ON search_scratch {using}")
            started = time.perf_counter()
            conn.execute(
                "INSERT INTO search_scratch SELECT * FROM waitpoints_waitpoint "
                "ORDER BY created_at DESC LIMIT %s",
                [args.rows],
            )
            inserted = time.perf_counter() - started
            build, size, searches = 0.0, 0.0, ""
            if using:
                conn.execute("DROP INDEX search_scratch_idx")
                started = time.perf_counter()
                conn.execute(f"CREATE INDEX search_scratch_idx ON search_scratch {using}")
                build = time.perf_counter() - started
                size = (
                    conn.execute("SELECT pg_relation_size('search_scratch_idx')").fetchone()[0]
                    / 1e6
                )
                conn.execute("VACUUM ANALYZE search_scratch")
                searches = ", ".join(
                    f"{label} {search_ms(conn, SEARCHES[name], word, name, args.repeat):.1f}"
                    for label, word in WORDS.items()
                )
            print(f"{name:28} {inserted:9.2f} {build:8.2f} {size:8.1f}  {searches}")
        conn.execute("DROP TABLE IF EXISTS search_scratch")
        one_by_one(conn, args.single_inserts)


def one_by_one(conn, count: int) -> None:
    """Tokens inserted one per statement and transaction, as the API creates them, into a
    table with each index in turn; three interleaved rounds, the median per index."""
    from psycopg.types.json import Jsonb

    source = [
        [Jsonb(value) if isinstance(value, dict | list) else value for value in row]
        for row in conn.execute(
            "SELECT * FROM waitpoints_waitpoint ORDER BY created_at DESC LIMIT %s", [count]
        )
    ]
    columns = len(source[0])
    insert = f"INSERT INTO search_scratch VALUES ({', '.join(['%s'] * columns)})"
    timings: dict[str, list[float]] = {name: [] for name in INDEXES}
    for _ in range(3):
        for name, using in INDEXES.items():
            conn.execute("DROP TABLE IF EXISTS search_scratch")
            conn.execute(
                "CREATE TABLE search_scratch AS SELECT * FROM waitpoints_waitpoint LIMIT 0"
            )
            if using:
                conn.execute(f"CREATE INDEX search_scratch_idx ON search_scratch {using}")
            started = time.perf_counter()
            for row in source:
                conn.execute(insert, row)
            timings[name].append((time.perf_counter() - started) / count * 1e6)
    conn.execute("DROP TABLE IF EXISTS search_scratch")
    base = statistics.median(timings["none"])
    print(f"\n{count} tokens, one INSERT each (autocommit), median of 3 interleaved rounds")
    for name, samples in timings.items():
        per_row = statistics.median(samples)
        print(f"{name:28} {per_row:7.1f} µs per token ({per_row / base:.2f}× no index)")


def search_ms(conn, condition: str, word: str, name: str, repeat: int) -> float:
    term = f"%{word}%" if name.startswith("trigram") else f"{word}:*"
    sql = (
        f"SELECT id FROM search_scratch WHERE {condition} "
        "ORDER BY created_at DESC, id DESC LIMIT 26"
    )
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(sql, [term]).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


if __name__ == "__main__":
    main()
