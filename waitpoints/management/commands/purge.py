"""`manage.py purge --older-than 30d [--dry-run]`: retention by hand (README, "Production")."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from waitpoints.core.durations import parse_duration
from waitpoints.errors import InvalidInput
from waitpoints.ops import retention


class Command(BaseCommand):
    help = (
        "Delete finished tokens (with their tags and audit events), finished runs (with their "
        "journals and blocks) and finished webhook deliveries older than --older-than, in small "
        "batches. --dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="a duration such as 30d or 12h")
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")
        parser.add_argument(
            "--pause-ratio",
            type=float,
            default=None,
            help="pause this many times each batch's duration after it "
            "(default WAITPOINTS_RETENTION_PAUSE_RATIO; 0: as fast as possible)",
        )

    def handle(
        self,
        *args,
        older_than: str,
        dry_run: bool,
        batch_size: int | None,
        pause_ratio: float | None,
        **options,
    ):
        try:
            age = parse_duration(older_than, field="--older-than")
        except InvalidInput as exc:
            raise CommandError(str(exc.details.get("--older-than", exc))) from None
        if pause_ratio is not None and pause_ratio < 0:
            raise CommandError("--pause-ratio must not be negative")
        counts = retention.purge(
            older_than=age, dry_run=dry_run, batch_size=batch_size, pause_ratio=pause_ratio
        )
        verb = "would delete" if dry_run else "deleted"
        for name, count in counts.items():
            self.stdout.write(f"{verb} {count} {name}")
