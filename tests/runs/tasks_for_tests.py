"""Task functions the run tests trigger, in-process and in a real worker (which imports this
module through WAITPOINTS_TASK_MODULES). Side effects append lines to files named in the payload,
so a test in another process can count how often each piece of code ran."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, connections

from waitpoints import task, wait
from waitpoints.runs.runtime.context import current_run
from waitpoints.runs.services.durable_calls import BLOCK_HOOKS


def append_line(path: str, line: str) -> str:
    with open(path, "a") as file:
        file.write(line + "\n")
    return line


def lines(path: str | Path) -> list[str]:
    path = Path(path)
    return path.read_text().splitlines() if path.exists() else []


@task(id="test-echo")
def echo(payload):
    return {"echo": payload}


@task(id="test-trigger-child-then-wait")
def trigger_child_then_wait(payload):
    child = echo.trigger({"from": "parent"}, tags=["child"])  # journaled: once across replays
    result = wait.for_token(wait.create_token(timeout="1h"))
    return {"child": child.id, "childCached": child.is_cached, "ok": result.ok}


@task(id="test-heartbeat")
def heartbeat(payload):
    from waitpoints.models import Run
    from waitpoints.runs.services.trigger import run_cancel

    run = Run.objects.get(id=current_run().run_id)
    if payload.get("cancel_first"):
        run_cancel(environment=run.environment, run_id=run.id)  # e.g. a reviewer, meanwhile
    wait.heartbeat()  # long work between durable calls keeps its lease, or stops if canceled
    append_line(payload["log"], "after heartbeat")
    renewed = Run.objects.get(id=run.id).lease_expires_at
    return {"renewed": renewed > run.lease_expires_at}


@task(id="test-wait-for-token")
def wait_for_token(payload):
    token = wait.create_token(
        timeout=payload.get("timeout", "1h"), title=payload.get("title", ""), tags=["test"]
    )
    wait.step("before-wait", append_line, payload["log"], "before")
    result = wait.for_token(token)
    append_line(payload["log"], "after")  # not journaled: runs once per execution past the wait
    if not result.ok:
        return {"ok": False, "error": result.error.name, "message": str(result.error)}
    return {"ok": True, "output": result.output}


@task(id="test-two-tokens")
def two_tokens(payload):
    outputs = []
    for title in ("first", "second"):
        token = wait.create_token(timeout="1h", title=title)
        outputs.append(wait.for_token(token).unwrap())
    return outputs


@task(id="test-outside-token")
def outside_token(payload):
    return wait.for_token(payload["token"]).unwrap()


@dataclass
class Decision:
    approved: bool
    comment: str = ""


@task(id="test-typed")
def typed(payload):
    decision = wait.for_token(payload["token"], output_type=Decision).unwrap()
    return {
        "approved": decision.approved,
        "comment": decision.comment,
        "type": type(decision).__name__,
    }


@task(id="test-unwrap-timeout", max_attempts=1)
def unwrap_timeout(payload):
    return wait.for_token(payload["token"]).unwrap()


@task(id="test-flaky", max_attempts=2, backoff_seconds=0.01)
def flaky(payload):
    append_line(payload["log"], "attempt")
    raise ValueError("boom")


@task(id="test-not-json")
def not_json(payload):
    return {"when": object()}


@task(id="test-order")
def order(payload):
    """Makes its calls in an order chosen by a file: flipping it between replays is the bug."""
    names = ["a", "b"] if not Path(payload["flip"]).exists() else ["b", "a"]
    for name in names:
        wait.step(name, append_line, payload["log"], name)
    token = wait.create_token(timeout="1h")
    return wait.for_token(token).output


@task(id="test-sleep")
def sleep(payload):
    wait.for_(seconds=payload.get("seconds", 1))
    append_line(payload["log"], "woke")
    return {"slept": True}


@task(id="test-crash-once")
def crash_once(payload):
    wait.step("started", append_line, payload["log"], "started")
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.write_text("killed here")
        time.sleep(120)  # the test SIGKILLs the worker while it sleeps
    append_line(payload["log"], "finished")
    return {"attempt": current_run().attempt}


@task(id="test-slow")
def slow(payload):
    """Holds the worker (not a durable wait) so a test can see the worker is busy."""
    time.sleep(payload.get("seconds", 1))
    return "slow done"


# --- Race seam: complete the token while for_token holds its lock, before the block exists ----

RACE_TITLE = "race-during-block"


def _complete_in_window(run_id: str, waitpoint_id: str) -> None:
    from waitpoints.models import Waitpoint
    from waitpoints.tokens.services.complete import token_complete

    waitpoint = Waitpoint.objects.select_related("environment").get(id=waitpoint_id)
    if waitpoint.title != RACE_TITLE:
        return
    outcome: dict = {}
    beginning = threading.Event()

    def note_begin(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            beginning.set()
        return execute(sql, params, many, context)

    def complete() -> None:
        try:
            with connection.execute_wrapper(note_begin):  # this thread's own connection
                completion = token_complete(
                    environment=waitpoint.environment,
                    token_id=waitpoint_id,
                    data={"from": "racer"},
                    via="sdk",
                    actor="racer",
                )
            outcome["won"] = completion.won
        finally:
            connections.close_all()

    racer = threading.Thread(target=complete)
    racer.start()
    # Proceed only once the completer is blocked on this row's lock: the window is real.
    deadline = time.monotonic() + 10
    if connection.vendor != "postgresql":
        # SQLite locks the whole database for this transaction (BEGIN IMMEDIATE): the
        # completer's own BEGIN IMMEDIATE waits until it commits.
        beginning.wait(timeout=10)
        _RACERS.append(racer)
        return
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # pg_stat_activity is read once per transaction unless its snapshot is dropped.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if cursor.fetchone()[0] > 0:
                break
            time.sleep(0.01)
    _RACERS.append(racer)


_RACERS: list[threading.Thread] = []
BLOCK_HOOKS.append(_complete_in_window)


@task(id="test-wait-in-atomic", max_attempts=1)
def wait_in_atomic(payload):
    from django.db import transaction

    with transaction.atomic():
        return wait.for_token(payload["token"]).output


@task(id="test-deferred-journal", max_attempts=2, backoff_seconds=0.01)
def deferred_journal(payload):
    """Resumes past a finished token, then makes the write `mode` names: the deferred for_token
    entry must be journaled with it."""
    result = wait.for_token(payload["token"])
    append_line(payload["log"], "past the wait")
    if payload["mode"] == "step":
        wait.step("after", lambda: "stepped")
    elif payload["mode"] == "wait-again":
        wait.for_token(wait.create_token(timeout="1h"))
    elif payload["mode"] == "fail" and len(lines(payload["log"])) == 1:
        raise ValueError("first attempt fails after the wait")
    return result.output


@task(id="test-two-finished-then-step")
def two_finished_then_step(payload):
    outputs = [wait.for_token(token).output for token in payload["tokens"]]
    wait.step("after", lambda: "stepped")
    return outputs
