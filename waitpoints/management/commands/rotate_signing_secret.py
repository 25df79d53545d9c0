from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from waitpoints.core.durations import parse_duration
from waitpoints.environments import services
from waitpoints.errors import InvalidInput
from waitpoints.models import Environment


class Command(BaseCommand):
    help = (
        "Give an environment a new signing secret (callback URL hashes, public access tokens). "
        "URLs and tokens handed out before keep working for the grace period, then answer 401."
    )

    def add_arguments(self, parser):
        parser.add_argument("--environment", required=True, help="Environment slug")
        parser.add_argument(
            "--grace",
            default="7d",
            help="How long the previous secret still verifies, e.g. 7d, 12h, 0s (default: 7d)",
        )

    def handle(self, *args, environment: str, grace: str, **options):
        env = Environment.objects.filter(slug=environment).first()
        if env is None:
            raise CommandError(f"No environment {environment!r}")
        try:
            zero = grace.strip() in {"0", "0s"}
            period = timedelta(0) if zero else parse_duration(grace, field="--grace")
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        env = services.environment_rotate_signing_secret(environment=env, grace=period)
        self.stdout.write(
            f"Rotated the signing secret of '{env.slug}'; the previous one verifies until "
            f"{env.previous_signing_secret_expires_at.isoformat()}"
        )
