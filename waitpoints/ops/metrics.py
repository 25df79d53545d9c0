"""Prometheus metrics (docs/architecture.md, "Operations": which metric comes from where, and why).

Two sources, one `/metrics` answer:

- **Events**, counted by the process where they happen, in prometheus_client's multiprocess mode
  (`PROMETHEUS_MULTIPROC_DIR`: every gunicorn and Celery process of a machine writes its own
  memory-mapped file, a scrape adds them up): tokens created, completed and timed out (counted
  by the service once its write succeeded), the wake-up latency, HTTP requests. Counting them in the
  tables at every scrape would cost a scan of every token ever made, and retention would make
  such a "counter" go down.
- **State**, read from the database at scrape time (`DatabaseCollector`), so it is right however
  many processes run: tokens waiting, the oldest due token the sweeper has not reached yet,
  runs and webhook deliveries by status. Each is one grouped query on an index.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from waitpoints.models import (
    Environment,
    Run,
    Waitpoint,
    WaitpointKind,
    WaitpointStatus,
    WebhookDelivery,
)

TOKENS_CREATED = Counter(
    "waitpoints_tokens_created", "Tokens created (idempotent replays not counted)", ["environment"]
)
TOKENS_COMPLETED = Counter(
    "waitpoints_tokens_completed", "Tokens completed, by how", ["environment", "via"]
)
TOKENS_TIMED_OUT = Counter("waitpoints_tokens_timed_out", "Tokens timed out", ["environment"])
WAKEUP_LATENCY = Histogram(
    "waitpoints_wakeup_latency_seconds",
    "From a waitpoint finishing to the run it woke being claimed by a worker",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
HTTP_REQUESTS = Counter(
    "waitpoints_http_requests", "HTTP requests answered", ["view", "method", "status"]
)
HTTP_DURATION = Histogram(
    "waitpoints_http_request_duration_seconds", "Time to answer an HTTP request", ["view"]
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_slugs: dict[int, str] = {}


def _slug(environment_id: int) -> str:
    if environment_id not in _slugs:
        _slugs.update(Environment.objects.values_list("id", "slug"))
    return _slugs.get(environment_id, str(environment_id))


# --- events, counted by the service once its write succeeded ---
# Not with `transaction.on_commit`: the services' callers and tests count the on-commit
# callbacks (the wake-up messages). The one cost: a change rolled back by a caller's outer
# transaction after the service returned is still counted.


def count_created(environment: Environment) -> None:
    TOKENS_CREATED.labels(environment.slug).inc()


def count_completed(environment: Environment, via: str) -> None:
    TOKENS_COMPLETED.labels(environment.slug, str(via)).inc()


def count_timed_out(tokens: Iterable[tuple[int, str]]) -> None:
    """`tokens`: (environment id, token id) of the tokens this transaction times out."""
    by_environment: dict[int, int] = {}
    for environment_id, _ in tokens:
        by_environment[environment_id] = by_environment.get(environment_id, 0) + 1
    _add_timed_out(by_environment)


def count_timed_out_by_environment(by_environment: dict[int, int]) -> None:
    """The sweep's fast path counts its tokens per environment in its own statement."""
    _add_timed_out(by_environment)


def _add_timed_out(by_environment: dict[int, int]) -> None:
    for environment_id, n in by_environment.items():
        TOKENS_TIMED_OUT.labels(_slug(environment_id)).inc(n)


def observe_wakeup(latency: timedelta) -> None:
    WAKEUP_LATENCY.observe(max(latency.total_seconds(), 0))


class HttpMetricsMiddleware:
    """Counts every answer by view name (bounded: URL patterns, not paths), method and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_DURATION.labels(view).observe(time.perf_counter() - started)
        return response


# --- state, read at scrape time ---


class DatabaseCollector:
    """Gauges computed from the tables at each scrape (cheap: docs/benchmarks.md, "Metrics")."""

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("waitpoints_database_up", "The scrape could read the database")
        try:
            families = list(self._families())
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        duration = GaugeMetricFamily(
            "waitpoints_metrics_database_seconds", "Time the scrape spent in the database"
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _families(self) -> Iterator[Metric]:
        slugs = dict(Environment.objects.values_list("id", "slug"))
        waiting = GaugeMetricFamily(
            "waitpoints_tokens_waiting",
            "Tokens WAITING (due ones included)",
            labels=["environment"],
        )
        rows = (
            Waitpoint.objects.filter(status=WaitpointStatus.WAITING, kind=WaitpointKind.MANUAL)
            .values_list("environment_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        counts = dict(rows)
        for environment_id, slug in slugs.items():
            waiting.add_metric([slug], counts.get(environment_id, 0))
        yield waiting

        now = timezone.now()
        oldest_due = Waitpoint.objects.filter(
            status=WaitpointStatus.WAITING, timeout_at__lte=now
        ).aggregate(oldest=Min("timeout_at"))["oldest"]
        lateness = GaugeMetricFamily(
            "waitpoints_sweep_lateness_seconds",
            "How long ago the oldest WAITING waitpoint the sweeper has not finished yet was due",
        )
        lateness.add_metric([], (now - oldest_due).total_seconds() if oldest_due else 0)
        yield lateness

        runs = GaugeMetricFamily(
            "waitpoints_runs", "Runs by status", labels=["environment", "status"]
        )
        rows = Run.objects.values_list("environment_id", "status").annotate(n=Count("id"))
        for environment_id, status, n in rows.order_by():
            runs.add_metric([slugs.get(environment_id, str(environment_id)), status], n)
        yield runs

        deliveries = GaugeMetricFamily(
            "waitpoints_webhook_deliveries",
            "Webhook deliveries by result (PENDING, SUCCEEDED, FAILED)",
            labels=["status"],
        )
        for status, n in (
            WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by()
        ):
            deliveries.add_metric([status], n)
        yield deliveries


_database_registry = CollectorRegistry(auto_describe=False)
_database_registry.register(DatabaseCollector())


def events_registry() -> CollectorRegistry:
    """Every process's event metrics in multiprocess mode, else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def render(*, database: bool = True) -> bytes:
    """The exposition text: the event metrics, then (unless asked not to) the database's."""
    text = generate_latest(events_registry())
    if database:
        text += generate_latest(_database_registry)
    return text
