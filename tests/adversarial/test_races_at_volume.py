"""Races at volume: 100 tokens, each awaited by a run in a real worker, x 10 concurrent
completers (each on its own connection, each sending its own data), while two sweepers time
out the half of the tokens whose deadlines fall inside the storm.

Every token ends in exactly one final state with one audit row; a completed token stores the
output of the one completer that won (token_complete's `won`); every waiting run is
resumed exactly once and finishes with that outcome.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.concurrency import run_concurrently
from tests.processes import wait_until
from tests.runs.tasks_for_tests import lines
from waitpoints import tasks
from waitpoints.models import (
    AuditEvent,
    Run,
    RunBlock,
    RunJournalEntry,
    RunStatus,
    Waitpoint,
    WaitpointStatus,
)
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TOKENS = 100
COMPLETERS = 10


def test_100_tokens_10_completers_and_sweepers_one_outcome_each_and_one_resume_per_run(
    start_worker, environment, tmp_path
):
    start_worker(concurrency=2)
    logs = {}
    for n in range(TOKENS):
        logs[n] = str(tmp_path / f"run-{n}.log")
        tasks.trigger("test-wait-for-token", {"log": logs[n]}, environment=environment)
    wait_until(
        lambda: Run.objects.filter(status=RunStatus.WAITING).count() == TOKENS,
        timeout=120,
        what=f"{TOKENS} runs to wait on their tokens",
    )
    blocks = {block.run_id: block.waitpoint_id for block in RunBlock.objects.all()}
    assert len(blocks) == TOKENS and len(set(blocks.values())) == TOKENS
    token_ids = sorted(blocks.values())
    rng = random.Random(5)

    # Half the tokens fall due inside the storm. A quarter are completed only after their
    # deadline (so completers and sweepers race to time them out); a quarter race live.
    storm_start = timezone.now()
    timing_out = token_ids[: TOKENS // 2]
    late_only = set(timing_out[: TOKENS // 4])
    for token_id in timing_out:
        deadline = storm_start + timedelta(milliseconds=rng.randint(100, 600))
        Waitpoint.objects.filter(id=token_id).update(timeout_at=deadline)
    deadlines = dict(Waitpoint.objects.filter(id__in=timing_out).values_list("id", "timeout_at"))

    wins: dict[str, list[int]] = defaultdict(list)
    wins_lock = threading.Lock()
    storm_over = threading.Event()

    def completer(number: int):
        def complete_all():
            order = token_ids[:]
            random.Random(number).shuffle(order)
            for token_id in order:
                if token_id in late_only:
                    while timezone.now() <= deadlines[token_id]:
                        time.sleep(0.01)
                completion = token_complete(
                    environment=environment,
                    token_id=token_id,
                    data={"completer": number, "token": token_id},
                    via="api",
                    actor=f"completer-{number}",
                )
                if completion.won:
                    with wins_lock:
                        wins[token_id].append(number)
            return number

        return complete_all

    def sweeper():
        finished = 0
        while not storm_over.is_set():
            finished += waitpoints_sweep_due(batch_size=7)
            time.sleep(0.005)
        return finished

    def storm():
        try:
            return run_concurrently([completer(n) for n in range(COMPLETERS)], timeout=120)
        finally:
            storm_over.set()

    sweeps = run_concurrently([storm, sweeper, sweeper], timeout=150)
    waitpoints_sweep_due()  # anything the storm left due

    tokens = {token.id: token for token in Waitpoint.objects.filter(id__in=token_ids)}
    outcomes = defaultdict(int)
    for token_id, token in tokens.items():
        outcomes[token.status] += 1
        finals = AuditEvent.objects.filter(
            waitpoint_id=token_id, action__in=["completed", "timed_out"]
        )
        assert finals.count() == 1, (token_id, list(finals.values("action", "actor")))
        if token.status == WaitpointStatus.COMPLETED:
            assert len(wins[token_id]) == 1, (token_id, wins[token_id])
            (winner,) = wins[token_id]
            assert token.output == {"completer": winner, "token": token_id}
            assert token.completed_by == f"completer-{winner}"
            assert finals.get().data == token.output
            assert token_id not in late_only
            if token_id in deadlines:
                assert token.completed_at < deadlines[token_id]
        else:
            assert token.status == WaitpointStatus.TIMED_OUT
            assert token_id in deadlines
            assert wins[token_id] == [] and token.output is None
            assert token.completed_at == deadlines[token_id]
    assert outcomes[WaitpointStatus.TIMED_OUT] >= len(late_only)
    assert outcomes[WaitpointStatus.COMPLETED] >= TOKENS - len(timing_out)
    print(f"outcomes {dict(outcomes)}; swept by the two sweepers: {sweeps[1:]}")

    # Every run resumes exactly once, with its token's outcome.
    wait_until(
        lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == TOKENS,
        timeout=120,
        what="every run to finish",
    )
    for run in Run.objects.all():
        token = tokens[blocks[run.id]]
        assert RunBlock.objects.get(run=run).resumed_at is not None
        if token.status == WaitpointStatus.COMPLETED:
            assert run.output == {"ok": True, "output": token.output}
        else:
            assert run.output["ok"] is False and run.output["error"] == "WaitpointTimeoutError"
        # One journal entry per durable call (create, step, wait), none repeated by a resume;
        # the wait's recorded result is the token's outcome.
        journal = list(RunJournalEntry.objects.filter(run=run).order_by("sequence"))
        assert [entry.kind for entry in journal] == ["create_token", "step", "for_token"]
        assert journal[2].waitpoint_id == token.id
    # The code after the wait ran once per run: no run was executed past its wait twice.
    time.sleep(1)  # a duplicate resume, if any, would have landed by now
    for n, log in logs.items():
        assert lines(log) == ["before", "after"], (n, lines(log))
    connection.close()
