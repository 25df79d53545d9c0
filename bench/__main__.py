"""One command for every benchmark figure (P1–P6, webhooks): prints a table, updates docs/benchmarks.md.

    make bench                       # = .venv/bin/python -m bench
    .venv/bin/python -m bench --seconds 8 --list-tokens 1000000 --waiting-runs 10000

Each part runs in its own process against its own fresh PostgreSQL database, with Redis as the
broker; each figure stands beside its baseline from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.common import BROKER_URL, ROOT, bench_database, recreate_database

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    print(f"$ {' '.join(args)}", flush=True)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        # Rate limits off, explicitly: the benchmarks measure throughput far above them.
        env={**os.environ, "PYTHONPATH": str(ROOT), "WAITPOINTS_RATE_LIMITS": "off", **(env or {})},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{args[0]} failed")
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    return result.stdout


def bench_json(output: str) -> dict:
    return json.loads(output.split("BENCH_JSON ", 1)[1].splitlines()[0])


def runs_figures(output: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("latency"):
            figures.update({k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)})
        elif re.match(r"^\w+: [\d.]+$", line):
            key, value = line.split(": ")
            figures[key] = float(value)
    return figures


def wakeup_pairs(count: int, samples: int, runs_env: dict[str, str]) -> list[tuple[dict, dict]]:
    """P2 against DBOS as `count` A/B pairs, each interleaved sample by sample: a DBOS `send` →
    `recv` follows each of our wake-ups in the same process (`bench_runs --with-dbos`), so both
    sides of a pair share the machine's load of the moment. The figure is a ratio, and its median
    over the pairs."""
    pairs = []
    for _ in range(count):
        ours = runs_figures(
            run(
                [
                    "bench/bench_runs.py", "--latency-runs", str(samples), "--waiting-runs", "0",
                    "--pools", "prefork", "--with-dbos",
                ],
                env=runs_env,
            )
        )  # fmt: skip
        theirs = {"p50_ms": ours.pop("dbos_p50_ms"), "p99_ms": ours.pop("dbos_p99_ms")}
        print(
            f"  pair {len(pairs) + 1}: P2 p50 {ours['p50_ms']:.1f} / p99 {ours['p99_ms']:.1f} ms, "
            f"DBOS {theirs['p50_ms']:.1f} / {theirs['p99_ms']:.1f} ms: "
            f"{ours['p50_ms'] / theirs['p50_ms']:.2f}x",
            flush=True,
        )
        pairs.append((ours, theirs))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per endpoint")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=3, help="interleaved P2/DBOS pairs")
    parser.add_argument("--lateness-tokens", type=int, default=1000)
    parser.add_argument("--due-tokens", type=int, default=100_000)
    parser.add_argument("--due-tokens-large", type=int, default=1_000_000)
    parser.add_argument("--list-tokens", type=int, default=1_000_000)
    parser.add_argument("--waiting-runs", type=int, default=10_000)
    parser.add_argument("--webhook-deliveries", type=int, default=200)
    args = parser.parse_args()

    api = bench_json(run(["-m", "bench.bench_api", "--seconds", str(args.seconds)]))
    runs_db = recreate_database(bench_database("runs"))
    runs_env = {"DATABASE_URL": runs_db, "CELERY_BROKER_URL": BROKER_URL}
    run(["manage.py", "migrate", "--verbosity=0"], env=runs_env)
    pairs = wakeup_pairs(args.pairs, args.latency_runs, runs_env)
    latency = {key: statistics.median(pair[0][key] for pair in pairs) for key in pairs[0][0]}
    dbos = {key: statistics.median(pair[1][key] for pair in pairs) for key in ("p50_ms", "p99_ms")}
    p2_ratio = statistics.median(ours["p50_ms"] / theirs["p50_ms"] for ours, theirs in pairs)
    # What the same hops take bare, interleaved with DBOS: how much of P2 is the design.
    floor = json.loads(
        run(["-m", "bench.bench_wakeup_floor", "--samples", str(args.latency_runs)]).splitlines()[
            -1
        ]
    )
    timeouts = bench_json(
        run(
            [
                "-m", "bench.bench_timeouts",
                "--lateness-tokens", str(args.lateness_tokens),
                "--due-tokens", str(args.due_tokens),
                "--due-tokens-large", str(args.due_tokens_large),
                "--list-tokens", str(args.list_tokens),
            ]
        )
    )  # fmt: skip
    waiting = runs_figures(
        run(
            [
                "bench/bench_runs.py",
                "--latency-runs",
                "0",
                "--waiting-runs",
                str(args.waiting_runs),
                "--pools",
                "",
            ],
            env=runs_env,
        )
    )
    hooks = bench_json(
        run(
            [
                "-m", "bench.bench_webhooks",
                "--deliveries", str(args.webhook_deliveries),
                "--seconds", str(args.seconds),
            ]
        )
    )  # fmt: skip

    inbox_env = {"BENCH_DATABASE_URL": recreate_database("waitpoints_bench_inbox")}
    inbox = bench_json(
        run(
            ["bench/bench_dashboard.py", "--tokens", str(args.list_tokens), "--repeat", "20"],
            env=inbox_env,
        )
    )
    index_cost = api["p1_create_rich_rps"] / api["p1_create_rich_unindexed_rps"]
    inbox_queries = [inbox["inbox_queries"], inbox["any_status_queries"]]

    def row(name, value, baseline, goal, met):
        return f"| {name} | {value} | {baseline} | {goal} | {'yes' if met else '**no**'} |"

    create_ratio = api["p1_create_rps"] / api["p1_baseline_rps"]
    complete_ratio = api["p1_complete_rps"] / api["p1_baseline_rps"]
    hook_ratio = {n: hooks[f"complete_rps_{n}"] / hooks["complete_rps_0"] for n in (1, 5)}
    rows = [
        "| figure | measured | baseline (same run) | goal | met |",
        "|---|---|---|---|---|",
        row("P1 create token", f"{api['p1_create_rps']:.0f} req/s ({create_ratio:.2f}×)", f"{api['p1_baseline_rps']:.0f} req/s bare DRF INSERT", "≥ 0.5×", create_ratio >= 0.5),
        row("P1 complete token", f"{api['p1_complete_rps']:.0f} req/s ({complete_ratio:.2f}×)", f"{api['p1_baseline_rps']:.0f} req/s bare DRF INSERT", "≥ 0.5×", complete_ratio >= 0.5),
        row("P2 complete → resumed run, p50 (median of the pairs' ratios)", f"{latency['p50_ms']:.1f} ms ({p2_ratio:.2f}×)", f"DBOS send→recv {dbos['p50_ms']:.1f} ms", "≤ 0.7× DBOS p50", p2_ratio <= 0.7),
        row("P2's design floor: the same hops bare (no Django, Celery or SDK), p50", f"{floor['floor_p50_ms']:.1f} ms ({floor['ratio']:.2f}×)", f"DBOS {floor['dbos_p50_ms']:.1f} ms, interleaved", "", True),
        row("P2 complete → resumed run, p99 (median of the pairs)", f"{latency['p99_ms']:.1f} ms", f"DBOS {dbos['p99_ms']:.1f} ms", "≤ 25 ms", latency["p99_ms"] <= 25),
        row(f"P3 timeout lateness p50 / p99 ({timeouts['p3_tokens']} tokens)", f"{timeouts['p3_lateness_p50_s']:.2f} / {timeouts['p3_lateness_p99_s']:.2f} s", f"beat tick {timeouts['p3_sweep_interval_s']:g} s", "p99 ≤ 1 s", timeouts["p3_lateness_p99_s"] <= 1.0),
        *(row(f"P4 {timeouts[f'{key}_expired']:,} tokens due at once → TIMED_OUT, {timeouts[f'{key}_runs_queued']:,} runs re-enqueued", f"{timeouts[f'{key}_seconds']:.1f} s ({timeouts[f'{key}_ratio']:.2f}×)", f"floor {timeouts[f'{key}_floor_seconds']:.1f} s: bare UPDATEs of as many tokens and runs", "≤ 2× the floor", timeouts[f"{key}_ratio"] <= 2) for key in ("p4", "p4_large") if f"{key}_ratio" in timeouts),
        row(f"P5 list, status+tags+period, {timeouts['p5_tokens']:,} tokens, p50 / p95", f"{timeouts['p5_p50_ms']:.1f} / {timeouts['p5_p95_ms']:.1f} ms", "", "p95 ≤ 50 ms", timeouts["p5_p95_ms"] <= 50),
        row(f"P6 {int(waiting.get('waiting_runs', 0)):,} waiting runs: worker slots held", f"{int(waiting.get('worker_slots_held', -1))}", "DBOS holds a thread per waiting workflow", "0", waiting.get("worker_slots_held") == 0),
        row("Webhooks: complete → webhook received, p50", f"{hooks['latency_p50_ms']:.1f} ms", f"complete request {hooks['latency_complete_request_p50_ms']:.1f} ms", "", True),
        row("Webhooks: complete → webhook received, p99", f"{hooks['latency_p99_ms']:.1f} ms", "", "≤ 100 ms", hooks["latency_p99_ms"] <= 100),
        *(row(f"Webhooks: complete token, {n} endpoint{'s' * (n > 1)} subscribed", f"{hooks[f'complete_rps_{n}']:.0f} req/s ({hook_ratio[n]:.2f}×)", f"{hooks['complete_rps_0']:.0f} req/s, none subscribed", "≥ 0.9×", hook_ratio[n] >= 0.9) for n in (1, 5)),
        row(f"Inbox p95, {inbox['tokens']:,.0f} tokens, default view (3 environments)", f"{inbox['default_p95_ms']:.0f} ms", "", "≤ 200 ms", inbox["default_p95_ms"] <= 200),
        row("Inbox p95, title/context search, a common word", f"{inbox['search_a_common_word_p95_ms']:.0f} ms ({inbox['search_a_common_word_p95_ms'] / inbox['default_p95_ms']:.1f}×)", f"default view {inbox['default_p95_ms']:.0f} ms", "≤ 200 ms", inbox["search_a_common_word_p95_ms"] <= 200),
        row("Inbox p95, title/context search, a rare word", f"{inbox['search_a_rare_word_p95_ms']:.0f} ms ({inbox['search_a_rare_word_p95_ms'] / inbox['default_p95_ms']:.1f}×)", f"default view {inbox['default_p95_ms']:.0f} ms", "≤ 200 ms", inbox["search_a_rare_word_p95_ms"] <= 200),
        row("Inbox SQL queries: 25 rows / 100 rows / a search", f"{inbox_queries[0]:.0f} / {inbox_queries[1]:.0f} / {inbox['search_a_common_word_queries']:.0f}", "", "same for any page size", inbox_queries[0] == inbox_queries[1]),
        row("P1 create with title + context: search index on / off", f"{api['p1_create_rich_rps']:.0f} / {api['p1_create_rich_unindexed_rps']:.0f} req/s ({index_cost:.2f}×)", "same run, index dropped", "≥ 0.8×", index_cost >= 0.8),
        row("P6 bytes per waiting run (run + journal + block; with its token)", f"{waiting.get('bytes_per_run_side', 0):,.0f} B; {waiting.get('bytes_per_run_with_token', 0):,.0f} B", "", "", True),
    ]  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    table = "\n".join(rows)
    section = (
        f"{BEGIN}\n## Summary: `make bench` ({stamp}, {os.cpu_count()} cores, load {load:.1f} at the end, "
        f"Python {platform.python_version()})\n\n{table}\n\n"
        f"Wake-up parts (p50): complete {latency.get('complete_p50_ms', 0):.1f} ms, deliver "
        f"{latency.get('deliver_p50_ms', 0):.1f} ms, claim {latency.get('claim_p50_ms', 0):.1f} ms, replay "
        f"{latency.get('replay_p50_ms', 0):.1f} ms. List at {api['p1_list_tokens']:,} tokens over HTTP: "
        f"p50 {api['p1_list_status_tags_period_p50_ms']:.1f} / p95 {api['p1_list_status_tags_period_p95_ms']:.1f} ms.\n\n"
        f"P2 as A/B pairs, each interleaved wake-up by wake-up ({args.latency_runs} of ours and "
        f"{args.latency_runs} of DBOS's), p50 / p99: "
        + "; ".join(
            f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} ms vs {theirs['p50_ms']:.1f} / "
            f"{theirs['p99_ms']:.1f} ms ({ours['p50_ms'] / theirs['p50_ms']:.2f}×)"
            for ours, theirs in pairs
        )
        + ".\n\n"
        f"P5 query plan:\n\n```\n{timeouts['p5_plan']}\n```\n{END}"
    )
    print("\n" + table)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{section}\n{rest}"
    DOC.write_text(text)
    print(f"\nWrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
