"""`/metrics`: Prometheus text; event counters move on create, complete and timeout (also summed
across gunicorn workers in multiprocess mode); state gauges come from the tables; a bearer token
guards it when WAITPOINTS_METRICS_TOKEN is set."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import start_gunicorn, wait_until
from waitpoints.models import CompletionVia, Waitpoint
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create
from waitpoints.tokens.services.expiry import waitpoints_sweep_due

pytestmark = pytest.mark.django_db(transaction=True)


def samples(text: str) -> dict[tuple, float]:
    """{(name, (label, value), …): value} of every sample."""
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def test_counters_and_gauges_move(client, environment):
    env = environment.slug
    before = scrape(client)

    def delta(*key) -> float:
        return scrape(client).get(key, 0) - before.get(key, 0)

    first = token_create(environment=environment, timeout="1h").waitpoint
    token_create(environment=environment, timeout="1h")
    due = token_create(environment=environment, timeout="1h").waitpoint
    token_complete(
        environment=environment, token_id=first.id, data={}, via=CompletionVia.API, actor=""
    )
    Waitpoint.objects.filter(id=due.id).update(timeout_at=timezone.now() - timedelta(seconds=5))
    after = scrape(client)
    assert after[("waitpoints_tokens_waiting", ("environment", env))] == 2  # one due, not swept
    assert after[("waitpoints_sweep_lateness_seconds",)] >= 5
    assert waitpoints_sweep_due() == 1

    assert delta("waitpoints_tokens_created_total", ("environment", env)) == 3
    assert delta("waitpoints_tokens_completed_total", ("environment", env), ("via", "api")) == 1
    assert delta("waitpoints_tokens_timed_out_total", ("environment", env)) == 1
    now = scrape(client)
    assert now[("waitpoints_tokens_waiting", ("environment", env))] == 1
    assert now[("waitpoints_sweep_lateness_seconds",)] == 0
    assert now[("waitpoints_database_up",)] == 1
    assert any(key[0] == "waitpoints_http_requests_total" for key in now)


def test_the_metrics_token_guards_the_endpoint(client, db):
    with override_settings(WAITPOINTS_METRICS_TOKEN="s3cret"):
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")


@pytest.mark.slow
@pytest.mark.postgres_only("real gunicorn workers share the test database")
def test_counts_add_up_across_gunicorn_workers(tmp_path, secret_key, environment):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    server, base_url = start_gunicorn(
        tmp_path,
        workers=2,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "WAITPOINTS_METRICS_TOKEN": "m"},
    )
    api = f"{base_url}/api/v1/waitpoints/tokens"
    auth = {"Authorization": f"Bearer {secret_key}", "Connection": "close"}
    env = environment.slug
    try:
        ids = [
            requests.post(api, json={"timeout": "1h"}, headers=auth, timeout=30).json()["id"]
            for _ in range(12)
        ]
        for token_id in ids[:4]:
            answer = requests.post(f"{api}/{token_id}/complete", json={}, headers=auth, timeout=30)
            assert answer.status_code == 200, answer.text
        # Overdue: completing it times it out instead (counted by the web worker that saw it).
        Waitpoint.objects.filter(id=ids[4]).update(timeout_at=timezone.now() - timedelta(1))
        requests.post(f"{api}/{ids[4]}/complete", json={}, headers=auth, timeout=30)
        assert requests.get(f"{base_url}/metrics", timeout=30).status_code == 401

        def scraped() -> dict:
            response = requests.get(
                f"{base_url}/metrics", headers={"Authorization": "Bearer m", "Connection": "close"}
            )
            return samples(response.text)

        # Every scrape (answered by either worker) sees the sum over both workers.
        for _ in range(6):
            values = scraped()
            assert values[("waitpoints_tokens_created_total", ("environment", env))] == 12
            completed = ("waitpoints_tokens_completed_total", ("environment", env), ("via", "api"))
            assert values[completed] == 4
            assert values[("waitpoints_tokens_timed_out_total", ("environment", env))] == 1
            assert values[("waitpoints_tokens_waiting", ("environment", env))] == 7

        # Both workers wrote their own files: the sums above really span processes.
        def two_workers_counted() -> bool:
            requests.get(f"{base_url}/healthz", headers={"Connection": "close"}, timeout=30)
            return len(list(metrics_dir.glob("counter_*.db"))) >= 2

        wait_until(two_workers_counted, what="both gunicorn workers to count requests")
    finally:
        server.stop()
