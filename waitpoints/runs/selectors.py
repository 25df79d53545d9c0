"""Reads of runs, shared by the API, the SDK and the admin."""

from __future__ import annotations

from django.db.models import Prefetch

from waitpoints.core.ids import is_plausible_id
from waitpoints.errors import NotFound
from waitpoints.models import Environment, Run, RunBlock, RunStatus


def run_get(*, environment: Environment, run_id: str) -> Run:
    """A run of this environment, with the blocks it is waiting on (`waiting_blocks`)."""
    if not is_plausible_id(run_id):
        raise NotFound("Run not found")
    run = (
        Run.objects.filter(environment=environment, id=run_id)
        .prefetch_related(
            Prefetch(
                "blocks",
                queryset=RunBlock.objects.filter(resumed_at__isnull=True)
                .select_related("waitpoint")
                .order_by("created_at", "id"),
                to_attr="pending_blocks",
            )
        )
        .first()
    )
    if run is None:
        raise NotFound(f"Run {run_id!r} not found")
    return run


def run_waiting_on(run: Run) -> list:
    """The waitpoints a WAITING run waits on (none for a run in any other status)."""
    if run.status != RunStatus.WAITING:
        return []
    blocks = getattr(run, "pending_blocks", None)
    if blocks is None:
        blocks = RunBlock.objects.filter(run=run, resumed_at__isnull=True).select_related(
            "waitpoint"
        )
    return [block.waitpoint for block in blocks]
