"""Waitpoints: durable "wait here" tokens for Django, with a REST API, an SDK and a dashboard.

`from waitpoints import wait, task, tasks` gives the SDK. It is imported lazily, so importing this package
does not need Django to be set up.
"""

from typing import Any

__all__ = ["task", "tasks", "wait"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from waitpoints import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'waitpoints' has no attribute {name!r}")
