"""The Celery app: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("waitpoints")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The tasks live in `waitpoints/celery_tasks.py` (not `tasks.py`: see its docstring).
app.autodiscover_tasks(related_name="celery_tasks")

if os.environ.get("LOG_FORMAT", "").lower() == "json":
    from config.json_logs import connect_celery_signals

    connect_celery_signals()
    # Celery's own handlers would replace the JSON one: keep Django's LOGGING.
    app.conf.worker_hijack_root_logger = False
