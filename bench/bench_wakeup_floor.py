"""The floor of P2's design, bare (not a test): what the wake-up would take with no Django, no
Celery and no SDK, only the hops the design has. Interleaved sample by sample with DBOS.

    .venv/bin/python -m bench.bench_wakeup_floor [--samples 200]   (needs `pip install dbos`)

The hops, as in `bench_runs`: the completer commits the token's completion and its run's wake in
one pipelined round trip, then LPUSHes the run id to Redis; a consumer process blocked in BRPOP hands
it over a pipe to a child process (Celery's prefork pool does the same), which claims the run with a
conditional UPDATE (`synchronous_commit = off`, as our claim) and stamps the time: the run's next
line. Prints one JSON line with both sides' p50/p99 and the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time

import psycopg
import redis

from bench.bench_dbos import DbosWakeups
from bench.common import BROKER_URL, bench_database, percentile, recreate_database

QUEUE = "bench-floor-wake"
SETUP_SQL = """
CREATE TABLE token (id text PRIMARY KEY, status text NOT NULL, output jsonb);
CREATE TABLE run (id text PRIMARY KEY, status text NOT NULL, lease timestamptz);
CREATE TABLE block (run_id text NOT NULL, token_id text NOT NULL, resumed_at timestamptz);
CREATE INDEX block_pending ON block (token_id) WHERE resumed_at IS NULL
"""
COMPLETE_SQL = (
    "UPDATE token SET status = 'COMPLETED', output = '1' WHERE id = %s AND status = 'WAITING'"
)
WAKE_SQL = """
WITH woken AS (
    UPDATE block SET resumed_at = now() WHERE token_id = %s AND resumed_at IS NULL RETURNING run_id
)
UPDATE run SET status = 'QUEUED' WHERE id IN (SELECT run_id FROM woken) AND status = 'WAITING'
RETURNING id
"""
CLAIM_SQL = """
WITH no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE run SET status = 'EXECUTING', lease = now() + interval '5 minutes'
FROM no_flush_wait WHERE id = %s AND status = 'QUEUED' RETURNING id
"""


def _child(url: str, reader, stamps) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            run_id = reader.recv()
            if run_id is None:
                return
            claimed = conn.execute(CLAIM_SQL, [run_id]).fetchone()
            stamps.send((run_id, time.time() if claimed else None))


def _consumer(url: str, child_pipe) -> None:
    client = redis.Redis.from_url(BROKER_URL)
    while True:
        _, run_id = client.brpop([QUEUE])
        run_id = run_id.decode()
        child_pipe.send(None if run_id == "stop" else run_id)
        if run_id == "stop":
            return


class FloorWakeups:
    def __init__(self) -> None:
        self.url = recreate_database(bench_database("floor"))
        with psycopg.connect(self.url, autocommit=True) as conn:
            for statement in SETUP_SQL.split(";"):
                conn.execute(statement)
        self.redis = redis.Redis.from_url(BROKER_URL)
        self.redis.delete(QUEUE)
        to_child, from_consumer = multiprocessing.Pipe()
        self.stamps, child_stamps = multiprocessing.Pipe()
        self.child = multiprocessing.Process(
            target=_child, args=(self.url, from_consumer, child_stamps)
        )
        self.consumer = multiprocessing.Process(target=_consumer, args=(self.url, to_child))
        self.child.start()
        self.consumer.start()
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.count = 0

    def one(self) -> float:
        self.count += 1
        token, run = f"token{self.count}", f"run{self.count}"
        self.conn.execute("INSERT INTO token VALUES (%s, 'WAITING', NULL)", [token])
        self.conn.execute("INSERT INTO run VALUES (%s, 'WAITING', NULL)", [run])
        self.conn.execute("INSERT INTO block VALUES (%s, %s, NULL)", [run, token])
        time.sleep(0.05)  # as bench_runs: everyone idle before the completion
        started = time.time()
        completing, waking = self.conn.cursor(), self.conn.cursor()
        with self.conn.pipeline():
            self.conn.execute("BEGIN")
            completing.execute(COMPLETE_SQL, [token])
            waking.execute(WAKE_SQL, [token])
            self.conn.execute("COMMIT")
        for (run_id,) in waking.fetchall():
            self.redis.lpush(QUEUE, run_id)
        run_id, resumed_at = self.stamps.recv()
        assert run_id == run and resumed_at is not None, (run_id, resumed_at)
        return (resumed_at - started) * 1000

    def close(self) -> None:
        self.redis.lpush(QUEUE, "stop")
        self.consumer.join(10)
        self.child.join(10)
        self.conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    floor, dbos = FloorWakeups(), DbosWakeups()
    ours, theirs = [], []
    for index in range(args.samples + 10):
        sample, baseline = floor.one(), dbos.one()
        if index >= 10:  # warm-up excluded
            ours.append(sample)
            theirs.append(baseline)
    floor.close()
    dbos.close()
    print(
        json.dumps(
            {
                "floor_p50_ms": percentile(ours, 0.5),
                "floor_p99_ms": percentile(ours, 0.99),
                "dbos_p50_ms": percentile(theirs, 0.5),
                "dbos_p99_ms": percentile(theirs, 0.99),
                "ratio": percentile(ours, 0.5) / percentile(theirs, 0.5),
                "samples": len(ours),
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
