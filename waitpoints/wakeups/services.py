"""Queue runs and send their messages: by task name, so this layer imports no Celery task."""

from __future__ import annotations

from celery import current_app
from django.db import transaction
from django.utils import timezone

from waitpoints.conf import run_lease
from waitpoints.core import database
from waitpoints.models import Run, RunBlock, RunStatus
from waitpoints.wakeups import sql

# The stable names of the Celery tasks in `waitpoints.tasks` (queued messages carry them).
EXECUTE_RUN_TASK = "waitpoints.tasks.execute_run"
EXECUTE_RUNS_TASK = "waitpoints.tasks.execute_runs"

# Publishing one Celery message costs about 1 ms here, so waking 100,000 runs one message each
# took 70 s (docs/benchmarks.md, P4). A large wake (a sweep timing out many tokens) sends chunks;
# a small one keeps a message per run, for the lowest latency and the widest spread over workers.
# A chunk's runs execute one after another (~5 ms each), so 250 keeps a chunk to about a second
# of a worker's time while 100,000 runs take 400 messages (1,000 with chunks of 100: ~1.5 s).
WAKE_CHUNK_THRESHOLD = 32
WAKE_CHUNK_SIZE = 250


def enqueue_runs(run_ids: list[str], *, countdown: float | None = None) -> None:
    if len(run_ids) > WAKE_CHUNK_THRESHOLD and not countdown:
        for start in range(0, len(run_ids), WAKE_CHUNK_SIZE):
            chunk = run_ids[start : start + WAKE_CHUNK_SIZE]
            # A summary for the logs: Celery's own repr of 250 ids was a tenth of the sweep's
            # Python time in a mass expiry (docs/benchmarks.md, P4).
            current_app.send_task(EXECUTE_RUNS_TASK, args=(chunk,), argsrepr=f"[{len(chunk)} runs]")
        return
    for run_id in run_ids:
        current_app.send_task(EXECUTE_RUN_TASK, args=(run_id,), countdown=countdown or None)


def enqueue_runs_on_commit(run_ids: list[str], *, countdown: float | None = None) -> None:
    # robust: a broker down at commit must not fail the committed transaction; the lease makes
    # the stalled-run sweeper send the message again.
    transaction.on_commit(lambda: enqueue_runs(run_ids, countdown=countdown), robust=True)


def wake_runs_blocked_on(waitpoint_ids: list[str]) -> list[str]:
    """Resume each run blocked on these (now finished, locked) waitpoints exactly once.

    The caller holds the waitpoint row locks, and `resumed_at` is set here in the same
    transaction, so a second completion or a racing sweeper finds nothing left to wake. A blocked
    run is WAITING here (the block and WAITING are written together under the same lock), so it
    becomes QUEUED; a canceled one stays canceled. The message is sent on commit; if it is lost,
    the lease makes the stalled-run sweeper send it again.
    """
    now = timezone.now()
    lease = now + run_lease()
    if database.postgresql():
        run_ids = sql.resume_blocks(waitpoint_ids, now=now, lease=lease)
    else:
        pending = RunBlock.objects.filter(waitpoint_id__in=waitpoint_ids, resumed_at__isnull=True)
        run_ids = sorted(set(pending.values_list("run_id", flat=True)))
        if run_ids:
            pending.update(resumed_at=now)
            Run.objects.filter(id__in=run_ids, status=RunStatus.WAITING).update(
                status=RunStatus.QUEUED, updated_at=now, lease_expires_at=lease
            )
    if run_ids:
        # Every woken run, whatever status the update found: a message for a run that is not
        # QUEUED is a harmless no-op (the claim fails), a missing one would strand the run.
        enqueue_runs_on_commit(run_ids)
    return run_ids
