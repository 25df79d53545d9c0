"""Every `WAITPOINTS_*` setting, with its default and its check, read in this one place.

`config/settings.py` takes each one from the environment variable of the same name
(`from_environment`); code reads them through `waitpoints_settings`, at call time, so Django's
`override_settings` works in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


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
        # Modules whose `@task` functions are registered at start-up.
        Setting("WAITPOINTS_TASK_MODULES", [], _comma_list),
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
