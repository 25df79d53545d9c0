from django.core.management.base import BaseCommand, CommandError

from waitpoints.environments import services
from waitpoints.errors import InvalidInput


class Command(BaseCommand):
    help = "Create an API key for an environment (created if missing). Prints the secret last."

    def add_arguments(self, parser):
        parser.add_argument("--environment", default="dev", help="Environment slug (default: dev)")
        parser.add_argument("--name", default="", help="A label to recognise the key by")

    def handle(self, *args, environment: str, name: str, **options):
        try:
            env = services.environment_get_or_create(slug=environment)
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        issued = services.api_key_create(environment=env, name=name)
        self.stderr.write(
            f"API key {issued.api_key.prefix}… for environment '{env.slug}'. "
            "The secret below is shown once; only its hash is stored."
        )
        self.stdout.write(issued.secret)
