"""Run callables at the same moment in real threads, each with its own database connection."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_concurrently(calls: list[Callable[[], Any]], *, timeout: float = 60) -> list[Any]:
    """Start every call behind one barrier; return results in order (exceptions re-raised)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors[index] = exc
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a concurrent call hung"
    for error in errors:
        if error is not None:
            raise error
    return results
