from django.core.management.base import BaseCommand, CommandError

from waitpoints.core.ids import hash_secret
from waitpoints.environments import services
from waitpoints.models import ApiKey


class Command(BaseCommand):
    help = (
        "Revoke an API key, named by its prefix (as shown by the admin and create_api_key, "
        "e.g. wp_prod_AbC123) or by its whole secret. Requests with it answer 401 at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("key", help="The key's prefix, or its secret")

    def handle(self, *args, key: str, **options):
        keys = list(
            ApiKey.objects.filter(secret_hash=hash_secret(key)).select_related("environment")
        ) or list(ApiKey.objects.filter(prefix=key.rstrip("…")).select_related("environment"))
        if not keys:
            raise CommandError(f"No API key with prefix or secret {key!r}")
        if len(keys) > 1:
            listed = ", ".join(f"{k.prefix} ({k.environment.slug}, id {k.pk})" for k in keys)
            raise CommandError(f"{len(keys)} keys share that prefix: {listed}; pass the secret")
        api_key = keys[0]
        was_active = api_key.is_active
        services.api_key_revoke(api_key=api_key)
        state = "Revoked" if was_active else "Already revoked:"
        self.stdout.write(f"{state} API key {api_key.prefix}… ({api_key.environment.slug})")
