"""`manage.py devserver`: the whole service on one machine (web + Celery worker + beat).

devserver supervises two children, `runserver` and a Celery worker with embedded beat, each in a
process group of its own: a signal sent to a group reaches every process in it (beat runs as a
child process of the worker), and a Ctrl-C in the terminal reaches devserver only, which passes
it on.

- SIGINT (Ctrl-C) and SIGTERM are passed on to both groups, SIGHUP (the terminal closed) as
  SIGTERM because a Celery worker takes SIGHUP as "restart". devserver exits (status 0) once
  every process of both groups has exited, SIGKILLing whatever is left after STOP_GRACE_SECONDS;
  a second signal kills at once.
- If the worker exits on its own (kombu's "Unrecoverable error", a crash, the OOM killer),
  devserver logs it, stops what the worker left behind (its beat: never two beats), and restarts
  it after 1 s, 2 s, 4 s … (the delay starts over once a worker has stayed up for
  WORKER_STABLE_SECONDS). After MAX_WORKER_RESTARTS restarts in a row that didn't last,
  devserver stops everything and exits 1: the cause is then a setting, not bad luck.
- If runserver exits on its own (usually because its port is taken), devserver stops everything
  and exits 1.

A process in a background process group cannot read the terminal, so a `breakpoint()` in a view
or a task stops that process: to debug interactively, run `manage.py runserver` by itself.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from waitpoints.core.ids import hash_secret
from waitpoints.environments import services
from waitpoints.models import ApiKey

DEMO_USERNAME = "reviewer"
DEMO_PASSWORD = "reviewer"
DEMO_TASK_MODULES = "examples.moderation"
# A Celery worker's warm shutdown waits for the task in progress.
STOP_GRACE_SECONDS = 15.0
KILL_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.2
WORKER_STABLE_SECONDS = 60.0
MAX_WORKER_RESTARTS = 5
MAX_RESTART_DELAY_SECONDS = 30.0


def group_has_live_processes(group_id: int) -> bool:
    """Whether a process of the group is alive. Zombies have exited: an orphan's is reaped by
    PID 1, or never, in containers whose init doesn't reap."""
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:  # no procfs (macOS): count zombies too
        try:
            os.killpg(group_id, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # After the parenthesized command name: state, parent id, process group id, …
                state, _, process_group = stat.read().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue  # exited meanwhile
        if state != "Z" and int(process_group) == group_id:
            return True
    return False


class Child:
    """A command run in a process group of its own, whose id is the command's process id."""

    def __init__(self, name: str, command: list[str]):
        self.name, self.command = name, command
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=settings.BASE_DIR, process_group=0)
        self.started_at = time.monotonic()

    def exited(self) -> bool:
        """Whether the command itself has exited; processes it started may live on."""
        return self.process.poll() is not None

    def running(self) -> bool:
        """Whether any process of its group is alive."""
        return not self.exited() or group_has_live_processes(self.process.pid)

    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    def signal(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class Command(BaseCommand):
    help = "Migrate, create a demo reviewer and API key, then run web, worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        # The demo task module (examples/moderation.py) is enabled unless you list your own.
        os.environ.setdefault("WAITPOINTS_TASK_MODULES", DEMO_TASK_MODULES)
        call_command("migrate", interactive=False, verbosity=0)
        secret = self._demo_credentials()
        manage_py = str(settings.BASE_DIR / "manage.py")
        web = Child("runserver", [sys.executable, manage_py, "runserver", "--noreload", addrport])
        worker = Child(
            "the Celery worker",
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-B",
                "--pool=solo", "--loglevel=WARNING",
                f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
            ],
        )  # fmt: skip
        self._stop_signal: int | None = None
        self._kill_now = False
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous_handlers = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        failure = None
        try:
            web.start()
            worker.start()
            self._print_welcome(addrport, secret)
            failure = self._supervise(web, worker)
        finally:
            forwarded = signal.SIGINT if self._stop_signal == signal.SIGINT else signal.SIGTERM
            self._stop([child for child in (web, worker) if child.process], forwarded)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
        if failure:
            raise CommandError(failure)

    def _on_signal(self, signum, frame) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
        else:
            self._kill_now = True

    def _supervise(self, web: Child, worker: Child) -> str | None:
        """Watch the children until a stop signal (returns None) or a failure (returns it)."""
        restarts = 0
        while self._stop_signal is None:
            if web.exited():
                return f"runserver exited with status {web.process.returncode}"
            if worker.exited():
                status = worker.process.returncode
                restarts = 1 if worker.uptime() >= WORKER_STABLE_SECONDS else restarts + 1
                if restarts > MAX_WORKER_RESTARTS:
                    return f"the Celery worker exited {restarts} times in a row (status {status})"
                delay = min(2.0 ** (restarts - 1), MAX_RESTART_DELAY_SECONDS)
                self.stderr.write(
                    f"The Celery worker exited with status {status}; restarting it in {delay:g} s"
                )
                self._stop([worker], signal.SIGTERM)
                restart_at = time.monotonic() + delay
                while self._stop_signal is None and time.monotonic() < restart_at:
                    time.sleep(POLL_SECONDS)
                if self._stop_signal is not None:
                    break
                worker.start()
            time.sleep(POLL_SECONDS)
        return None

    def _stop(self, children: list[Child], signum: int) -> None:
        """Signal the children's groups and wait until their processes have exited; SIGKILL
        those left after STOP_GRACE_SECONDS, or at once on a second stop signal."""
        running = [child for child in children if child.running()]
        for child in running:
            child.signal(signum)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(child.running() for child in running):
            if self._kill_now or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        for child in running:
            if child.running():
                self.stderr.write(f"Killing {child.name}: it did not stop in time")
                child.signal(signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while any(child.running() for child in running) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)

    def _print_welcome(self, addrport: str, secret: str) -> None:
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
