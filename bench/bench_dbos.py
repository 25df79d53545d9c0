"""DBOS's `send` -> `recv` wake-up latency on the same PostgreSQL: the P2 baseline.

    .venv/bin/python -m bench.bench_dbos [--samples 200]   (needs `pip install dbos`)

A workflow waits in `DBOS.recv`; we time `DBOS.send` until the line after `recv` runs.
Prints one JSON line: {"p50_ms": ..., "p99_ms": ..., "samples": ...}. `bench_runs --with-dbos`
uses `DbosWakeups` to take a DBOS sample after each of its own, so both share the same moments.
"""

from __future__ import annotations

import argparse
import json
import time

import psycopg

from bench.common import ADMIN_URL, bench_database, database_url, percentile

DATABASE = bench_database("dbos")


class DbosWakeups:
    """DBOS launched on a fresh database of its own, one `send` -> `recv` wake-up per `one()`."""

    def __init__(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

        from dbos import DBOS

        self._dbos = DBOS
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

        self._waiter = waiter
        DBOS.launch()

    def one(self) -> float:
        """Milliseconds from `send` to the line after `recv`."""
        handle = self._dbos.start_workflow(self._waiter)
        time.sleep(0.05)  # let it reach recv, as our runs reach for_token before completion
        sent_at = time.time()
        self._dbos.send(handle.workflow_id, "ok", "go")
        return (handle.get_result() - sent_at) * 1000

    def close(self) -> None:
        self._dbos.destroy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    dbos = DbosWakeups()
    latencies = [dbos.one() for _ in range(args.samples)]
    dbos.close()
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
