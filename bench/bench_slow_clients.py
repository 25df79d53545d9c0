"""Slow clients against the README's gunicorn line: does a trickled body stall the API?

Each phase measures a normal API request (list tokens) while N unauthenticated connections
announce a large `Content-Length` on the login form, with a CSRF cookie so that the CSRF check
reads the body, and send it
a byte a second. Run with
`sync` workers (the old deployment line) and with the README's `gthread` line.

    .venv/bin/python -m bench.bench_slow_clients [--requests 200] [--trickle 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import requests

from bench.common import (
    ROOT,
    bench_database,
    free_port,
    manage,
    percentile,
    recreate_database,
    server_env,
)


@contextmanager
def gunicorn_with(db_url: str, worker_args: list[str]):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", *worker_args,
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=server_env(db_url, WAITPOINTS_RATE_LIMITS="off"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def trickle(base: str, stop: threading.Event) -> None:
    """Announce a 64 KiB body, then send it a byte a second until told to stop."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port)) as connection:
        connection.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            # With a CSRF cookie the middleware reads the form body to find the matching field.
            b"Cookie: csrftoken=abcdefghijklmnopqrstuvwxyz012345\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\n\r\n"
        )
        while not stop.wait(1.0):
            try:
                connection.sendall(b" ")
            except OSError:
                return


def latencies(base: str, key: str, count: int) -> list[float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        with suppress(requests.RequestException):
            response = session.get(f"{base}/api/v1/waitpoints/tokens?page[size]=10", timeout=60)
            response.raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def phase(base: str, key: str, requests_count: int, slow: int) -> dict[str, float]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=trickle, args=(base, stop), daemon=True) for _ in range(slow)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0 if slow else 0)  # let the slow connections reach their workers
    timings = latencies(base, key, requests_count)
    stop.set()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "max_ms": max(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--trickle", type=int, default=4)
    args = parser.parse_args()
    db_url = recreate_database(bench_database("slow"))
    manage(db_url, "migrate", "--verbosity=0")
    key = manage(db_url, "create_api_key", "--environment", "bench").strip().splitlines()[-1]
    print(f"load {os.getloadavg()[0]:.1f}; {args.trickle} trickling connections")
    setups = {
        "sync --workers 4 (the old line)": ["--workers", "4", "--timeout", "30"],
        "gthread --workers 4 --threads 8 (README)": [
            "--worker-class", "gthread", "--workers", "4", "--threads", "8", "--timeout", "30",
        ],
    }  # fmt: skip
    for name, worker_args in setups.items():
        with gunicorn_with(db_url, worker_args) as base:
            quiet = phase(base, key, args.requests, 0)
            slow = phase(base, key, min(args.requests, 20), args.trickle)
        print(
            f"{name}: list p50 {quiet['p50_ms']:.1f} ms alone; with {args.trickle} trickling "
            f"bodies p50 {slow['p50_ms']:.1f} / p95 {slow['p95_ms']:.1f} / max "
            f"{slow['max_ms']:.0f} ms"
        )


if __name__ == "__main__":
    main()
