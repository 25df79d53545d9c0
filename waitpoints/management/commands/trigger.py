"""`manage.py trigger <task_id> --payload '<json>'`: start a run; prints its id last."""

import json

from django.core.management.base import BaseCommand, CommandError

from waitpoints.environments.services import environment_get_or_create
from waitpoints.errors import WaitpointsError
from waitpoints.runs.registry import task_ids
from waitpoints.runs.services.trigger import run_trigger


class Command(BaseCommand):
    help = "Trigger a run of a registered task. Prints the run id as the last line."

    def add_arguments(self, parser):
        parser.add_argument("task_id")
        parser.add_argument("--payload", default="null", help="The payload, as JSON")
        parser.add_argument("--environment", default="dev", help="Environment slug (default: dev)")
        parser.add_argument("--idempotency-key", default=None)
        parser.add_argument("--tag", action="append", dest="tags", default=None)

    def handle(self, *args, task_id, payload, environment, idempotency_key, tags, **options):
        try:
            payload_value = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--payload is not JSON: {exc}") from None
        env = environment_get_or_create(slug=environment)
        try:
            triggered = run_trigger(
                environment=env,
                task_id=task_id,
                payload=payload_value,
                idempotency_key=idempotency_key,
                tags=tags,
            )
        except WaitpointsError as exc:
            known = ", ".join(task_ids()) or "none"
            raise CommandError(f"{exc.message} (registered tasks: {known})") from None
        if triggered.is_cached:
            self.stderr.write("A run with this idempotency key exists already:")
        self.stdout.write(triggered.id)
