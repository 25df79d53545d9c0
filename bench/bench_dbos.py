"""DBOS's `send` -> `recv` wake-up latency on the same PostgreSQL: the P2 baseline.

    .venv/bin/python -m bench.bench_dbos [--samples 200]   (needs `pip install dbos`)

A workflow waits in `DBOS.recv`; we time `DBOS.send` until the line after `recv` runs.
Prints one JSON line: {"p50_ms": ..., "p99_ms": ..., "samples": ...}.
"""

from __future__ import annotations

import argparse
import json
import time

import psycopg

from bench.common import ADMIN_URL, bench_database, database_url, percentile

DATABASE = bench_database("dbos")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')

    from dbos import DBOS

    DBOS(
        config={
            "name": "waitpoints-bench",
            "system_database_url": database_url(DATABASE),
            "log_level": "WARNING",
        }
    )

    @DBOS.workflow()
    def waiter() -> float:
        DBOS.recv("go", timeout_seconds=30)
        return time.time()

    DBOS.launch()
    latencies = []
    for _ in range(args.samples):
        handle = DBOS.start_workflow(waiter)
        time.sleep(0.05)  # let it reach recv, as our runs reach for_token before completion
        sent_at = time.time()
        DBOS.send(handle.workflow_id, "ok", "go")
        latencies.append((handle.get_result() - sent_at) * 1000)
    DBOS.destroy()
    print(
        json.dumps(
            {
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
                "samples": len(latencies),
            }
        )
    )


if __name__ == "__main__":
    main()
