"""`manage.py devserver`: the whole service on one machine (web + Celery worker + beat)."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand

from waitpoints.core.ids import hash_secret
from waitpoints.environments import services
from waitpoints.models import ApiKey

DEMO_USERNAME = "reviewer"
DEMO_PASSWORD = "reviewer"
DEMO_TASK_MODULES = "examples.moderation"


class Command(BaseCommand):
    help = "Migrate, create a demo reviewer and API key, then run web, worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        # The demo task module (examples/moderation.py) is enabled unless you list your own.
        os.environ.setdefault("WAITPOINTS_TASK_MODULES", DEMO_TASK_MODULES)
        call_command("migrate", interactive=False, verbosity=0)
        secret = self._demo_credentials()
        processes = [
            subprocess.Popen(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver", "--noreload", addrport],
                cwd=settings.BASE_DIR,
            ),
            subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker", "-B",
                    "--pool=solo", "--loglevel=WARNING",
                    f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
                ],
                cwd=settings.BASE_DIR,
            ),
        ]  # fmt: skip
        base = f"http://{addrport}"
        self.stdout.write(
            self.style.SUCCESS("\nWaitpoints is running (Ctrl-C stops everything)\n")
            + f"  Dashboard: {base}/dashboard/  (user {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r})\n"
            + f"  API docs:  {base}/api/docs/\n"
            + f"  API key:   {secret}\n"
            + f"  Try: curl -X POST {base}/api/v1/waitpoints/tokens "
            + f"-H 'Authorization: Bearer {secret}' -d '{{\"timeout\": \"1h\"}}'\n"
            + f"  Task run:  curl -X POST {base}/api/v1/tasks/moderation/trigger "
            + f"-H 'Authorization: Bearer {secret}' "
            + '-d \'{"payload": {"postId": 42, "text": "Hello"}}\'\n'
            + "             (or: WAITPOINTS_TASK_MODULES=examples.moderation python manage.py "
            + "trigger moderation --payload '{\"postId\": 42}')\n"
            + f"             then approve the token in the dashboard and GET {base}/api/v1/runs/<id>\n"
        )
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _demo_credentials(self) -> str:
        environment = services.environment_get_or_create(slug="dev", name="Development")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        reviewers, _ = Group.objects.get_or_create(name="Reviewers")
        reviewers.permissions.add(
            Permission.objects.get(
                codename="complete_waitpoint", content_type__app_label="waitpoints"
            )
        )
        user.groups.add(reviewers)
        # Dev only: keep the demo secret in var/ so restarts print the same working key.
        secret_file = settings.VAR_DIR / "demo-api-key"
        if secret_file.exists():
            secret = secret_file.read_text().strip()
            if ApiKey.objects.filter(secret_hash=hash_secret(secret)).exists():
                return secret
        secret = services.api_key_create(environment=environment, name="demo").secret
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secret)
        os.chmod(secret_file, 0o600)
        return secret
