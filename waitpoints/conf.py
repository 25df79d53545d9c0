"""Every `WAITPOINTS_*` setting, with its default and its check, read in this one place.

`config/settings.py` takes each one from the environment variable of the same name
(`from_environment`); code reads them through `waitpoints_settings`, at call time, so Django's
`override_settings` works in tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from waitpoints.core.durations import parse_duration
from waitpoints.errors import InvalidInput


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _flag(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"", "0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def _duration_seconds(value: str) -> float:
    """A duration in the API's own syntax (`30s`, `1h30m`, `2w`) -> seconds."""
    try:
        return parse_duration(value.strip()).total_seconds()
    except InvalidInput:
        raise ValueError(value) from None


def _seconds_list(value: str) -> list[float]:
    """`5s,5m,2h` -> [5, 300, 7200]; a bare number counts as seconds."""
    return [
        float(item) if item.replace(".", "", 1).isdigit() else _duration_seconds(item)
        for item in _comma_list(value)
    ]


def _retention_seconds(value: str) -> float | None:
    """`30d`, `12h`, `2w` -> seconds; empty -> None (keep everything)."""
    return _duration_seconds(value) if value.strip() else None


_RATE = re.compile(r"\d+/(s|sec|m|min|h|hour|d|day)")
_RATE_REQUIREMENT = "must be a rate such as 100/m (units s, m, h, d) or off"


def _rate(value: str) -> str | None:
    """`100/m` as DRF reads it; `off` or empty: no limit."""
    value = value.strip().lower()
    return None if value in {"", "off", "0", "none"} else value


def _rate_ok(value: str | None) -> bool:
    return value is None or _RATE.fullmatch(value) is not None


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any] = str
    check: Callable[[Any], bool] = lambda value: True
    requirement: str = ""


SETTINGS = {
    setting.name: setting
    for setting in [
        # Base of the callback URLs and emailed links handed out.
        Setting("WAITPOINTS_PUBLIC_URL", "http://127.0.0.1:8000", lambda v: v.rstrip("/")),
        # Timeout of a token created without one (a duration such as "10m").
        Setting("WAITPOINTS_DEFAULT_TIMEOUT", "10m"),
        # Environment of SDK calls made without `environment=`.
        Setting("WAITPOINTS_DEFAULT_ENVIRONMENT", "dev"),
        # How often beat sweeps for due waitpoints: a timeout fires at most this late (plus
        # delivery). An idle sweep is one index probe that finds nothing (docs/benchmarks.md, P3).
        Setting(
            "WAITPOINTS_SWEEP_INTERVAL_SECONDS",
            0.5,
            float,
            lambda value: 0.05 <= value <= 60,
            "must be between 0.05 and 60",
        ),
        Setting("WAITPOINTS_SWEEP_BATCH_SIZE", 5000, int, lambda value: value >= 1, "must be >= 1"),
        # A QUEUED or EXECUTING run whose lease is older than this is re-enqueued by beat; an
        # executing run renews it at every durable call.
        Setting(
            "WAITPOINTS_RUN_LEASE_SECONDS", 300.0, float, lambda value: value > 0, "must be > 0"
        ),
        Setting(
            "WAITPOINTS_STALLED_RUN_CHECK_SECONDS",
            5.0,
            float,
            lambda value: value > 0,
            "must be > 0",
        ),
        # A QUEUED run no worker claimed for this long has its message sent again (then after
        # twice as long, …): a broker restart delays resumes by seconds. 0: only at lease expiry.
        Setting(
            "WAITPOINTS_QUEUED_RESEND_SECONDS",
            30.0,
            float,
            lambda value: value == 0 or value >= 5,
            "must be 0 (off) or >= 5",
        ),
        # Modules whose `@task` functions are registered at start-up.
        Setting("WAITPOINTS_TASK_MODULES", [], _comma_list),
        # --- Abuse limits (README, "Abuse limits") ---
        # Per-API-key request rates ("<n>/<s|m|h|d>", "off"), counted in Django's cache (Redis
        # via CACHE_URL when there are several web processes). Generous: they stop a runaway
        # client, not normal traffic. WAITPOINTS_RATE_LIMITS=off turns them all off (the test
        # suite and the benchmarks do, explicitly).
        Setting("WAITPOINTS_RATE_LIMITS", True, _flag),
        Setting("WAITPOINTS_RATE_LIMIT_CREATE", "6000/m", _rate, _rate_ok, _RATE_REQUIREMENT),
        Setting("WAITPOINTS_RATE_LIMIT_COMPLETE", "6000/m", _rate, _rate_ok, _RATE_REQUIREMENT),
        Setting("WAITPOINTS_RATE_LIMIT_LIST", "1200/m", _rate, _rate_ok, _RATE_REQUIREMENT),
        # Tokens WAITING at once per environment; a create beyond it answers 422. 0: no cap.
        Setting(
            "WAITPOINTS_MAX_WAITING_PER_ENVIRONMENT",
            1_000_000,
            int,
            lambda value: value >= 0,
            "must be >= 0 (0: no cap)",
        ),
        # Approval emails (`notify`) one API key may ask for per hour; beyond it 429. 0: no cap.
        Setting(
            "WAITPOINTS_NOTIFY_EMAILS_PER_KEY_PER_HOUR",
            500,
            int,
            lambda value: value >= 0,
            "must be >= 0 (0: no cap)",
        ),
        # /api/docs/ and /api/schema/: `public`, `login` (staff users signed in), or `off`.
        # Production's default is `login`.
        Setting(
            "WAITPOINTS_API_DOCS",
            "public",
            lambda value: value.strip().lower(),
            lambda value: value in {"public", "login", "off"},
            "must be public, login or off",
        ),
        # DRF's browsable API (HTML answers to browsers); off by default in production.
        Setting("WAITPOINTS_BROWSABLE_API", True, _flag),
        # Webhook URLs may resolve to loopback, private, link-local or metadata addresses (local
        # development and tests only: otherwise an API key could make the server call inside).
        Setting("WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE", False, _flag),
        # Waits between a failed webhook delivery and its next attempt; after the last one the
        # delivery fails. The default (Svix's) spans ~27.6 h.
        Setting(
            "WAITPOINTS_WEBHOOKS_RETRY_SCHEDULE",
            [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
            _seconds_list,
            lambda value: all(0 <= seconds <= 7 * 86400 for seconds in value),
            "must be a comma list of waits such as 5s,5m,2h (each at most 7d)",
        ),
        # Seconds to connect and then to read the answer: a slower receiver counts as failed.
        Setting(
            "WAITPOINTS_WEBHOOKS_TIMEOUT_SECONDS",
            10.0,
            float,
            lambda value: 0 < value <= 60,
            "must be > 0 and <= 60",
        ),
        # How often beat sends the webhook deliveries that are due (retries, lost messages).
        Setting(
            "WAITPOINTS_WEBHOOKS_SCAN_SECONDS",
            5.0,
            float,
            lambda value: 0.1 <= value <= 300,
            "must be between 0.1 and 300",
        ),
        # How often beat sends the reminders and escalations that are due (README, "Who decides").
        Setting(
            "WAITPOINTS_REMINDERS_SCAN_SECONDS",
            30.0,
            float,
            lambda value: 0.1 <= value <= 3600,
            "must be between 0.1 and 3600",
        ),
        # Bearer token that `GET /metrics` requires; unset: /metrics is open (keep it off the
        # public internet then).
        Setting("WAITPOINTS_METRICS_TOKEN", ""),
        # How long finished tokens, finished runs and delivered webhooks are kept (`30d`, `12h`,
        # `2w`); beat deletes older ones in small batches. Unset: everything is kept.
        Setting(
            "WAITPOINTS_RETENTION",
            None,
            _retention_seconds,
            lambda value: value is None or value >= 3600,
            "must be at least 1h (a duration such as 30d)",
        ),
        # Rows deleted per retention transaction (each a short transaction, SKIP LOCKED).
        Setting(
            "WAITPOINTS_RETENTION_BATCH_SIZE", 1000, int, lambda value: value >= 1, "must be >= 1"
        ),
        # After each retention batch, pause this many times the batch's own duration, so a large
        # purge leaves the CPU and the database to the API (1.0: half the time; 0: no pause).
        # Measured at 1M tokens on 2 cores: docs/benchmarks.md, "Retention".
        Setting(
            "WAITPOINTS_RETENTION_PAUSE_RATIO",
            1.0,
            float,
            lambda value: 0 <= value <= 100,
            "must be between 0 and 100",
        ),
        # How often beat runs the retention purge (when WAITPOINTS_RETENTION is set).
        Setting(
            "WAITPOINTS_RETENTION_INTERVAL_SECONDS",
            300.0,
            float,
            lambda value: value >= 1,
            "must be >= 1",
        ),
        # --- Reviewer dashboard (README, "Dashboard") ---
        # A dashboard Reject needs a reason (the comment); off: the comment stays optional.
        Setting("WAITPOINTS_REJECT_REQUIRES_REASON", True, _flag),
        # Seconds a dashboard decision waits, undoable, before it is recorded (0: at once).
        Setting(
            "WAITPOINTS_DASHBOARD_UNDO_SECONDS",
            5.0,
            float,
            lambda value: 0 <= value <= 60,
            "must be between 0 and 60",
        ),
        # Seconds `GET /readyz` waits for the database and for the broker before answering 503.
        Setting(
            "WAITPOINTS_READINESS_TIMEOUT_SECONDS",
            2.0,
            float,
            lambda value: 0 < value <= 30,
            "must be > 0 and <= 30",
        ),
    ]
}


def _checked(setting: Setting, value: Any) -> Any:
    if not setting.check(value):
        raise ImproperlyConfigured(f"{setting.name} {setting.requirement} (got {value!r})")
    return value


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every setting, from its environment variable or its default; a bad value refuses to
    start with a clear error."""
    values = {}
    for name, setting in SETTINGS.items():
        if name not in environ:
            values[name] = setting.default
            continue
        try:
            value = setting.parse(environ[name])
        except ValueError:
            raise ImproperlyConfigured(f"{name}: cannot read {environ[name]!r}") from None
        values[name] = _checked(setting, value)
    return values


class WaitpointsSettings:
    """Attribute access by lower-case name: `waitpoints_settings.run_lease_seconds`."""

    def __getattr__(self, attribute: str) -> Any:
        name = f"WAITPOINTS_{attribute.upper()}"
        setting = SETTINGS.get(name)
        if setting is None:
            raise AttributeError(f"No setting {name}")
        return getattr(settings, name, setting.default)


waitpoints_settings = WaitpointsSettings()


def run_lease() -> timedelta:
    """How long a claimed or queued run may go without news before beat takes it over."""
    return timedelta(seconds=waitpoints_settings.run_lease_seconds)
