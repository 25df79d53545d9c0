"""LOG_FORMAT=json: one JSON object per line, from web and worker processes (README, "Logs").

Each record carries what is known of the request or task it was logged in: `request_id`,
`environment`, `token_id`, `run_id`, `via`, and for the access line `method`, `path`,
`status`, `duration_ms`. The web side fills them in `RequestLogMiddleware`, the worker side
from Celery's task signals.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from datetime import UTC, datetime

# Fields of the current request or task, added to every record logged while it runs.
log_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "waitpoints_log_context", default=None
)
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(log_context.get() or {})
        entry.update({key: value for key, value in vars(record).items() if key not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


access_logger = logging.getLogger("waitpoints.access")


class RequestLogMiddleware:
    """Sets the log context of a request, and logs one access line per request under
    `/api/`, the dashboard and the approval links (probes and static files stay quiet)."""

    QUIET = ("/healthz", "/readyz", "/metrics", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        context = {"request_id": getattr(request, "request_id", None)}
        token = log_context.set(context)
        try:
            response = self.get_response(request)
        finally:
            log_context.reset(token)
        match = getattr(request, "resolver_match", None)
        kwargs = match.kwargs if match else {}
        for name in ("token_id", "run_id"):
            if name in kwargs:
                context[name] = kwargs[name]
        principal = getattr(request, "user", None)
        environment = getattr(principal, "environment", None)
        if environment is not None:
            context["environment"] = environment.slug
        if "/callback/" in request.path:
            context["via"] = "callback"
        elif request.path.startswith("/api/"):
            context["via"] = "api"
        elif request.path.startswith(("/dashboard/", "/approve/")):
            context["via"] = "dashboard" if request.path.startswith("/dashboard/") else "email"
        if not request.path.startswith(self.QUIET):
            token = log_context.set(context)
            try:
                access_logger.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            finally:
                log_context.reset(token)
        return response


def connect_celery_signals() -> None:
    """Workers: each task's records carry its name and id, and the run id of `execute_run`."""
    from celery import signals  # imported here: settings (which import this module) stay light

    def before(task_id=None, task=None, args=None, kwargs=None, **_):
        context = {"task": getattr(task, "name", None), "task_id": task_id}
        run_id = (kwargs or {}).get("run_id") or (args[0] if args else None)
        if getattr(task, "name", "").endswith("execute_run") and isinstance(run_id, str):
            context["run_id"] = run_id
            context["via"] = "worker"
        task._waitpoints_log_token = log_context.set(context)

    def after(task=None, **_):
        token = getattr(task, "_waitpoints_log_token", None)
        if token is not None:
            log_context.reset(token)
            task._waitpoints_log_token = None

    signals.task_prerun.connect(before, weak=False)
    signals.task_postrun.connect(after, weak=False)
