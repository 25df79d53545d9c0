"""The database connection dropped under load (backends terminated) while gunicorn serves the
API: answers are 503 JSON (never a traceback or an HTML 500), the service recovers by itself,
and no completion that was answered with success is lost.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection, transaction

from tests.processes import start_gunicorn, wait_until
from waitpoints.models import Waitpoint, WaitpointStatus
from waitpoints.tokens.services.create import token_create

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only("drops connections with pg_terminate_backend; SQLite has none"),
]

TERMINATE_OTHERS = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(TERMINATE_OTHERS)
        return len(cursor.fetchall())


@pytest.fixture
def server(tmp_path):
    process, base_url = start_gunicorn(tmp_path)
    yield base_url
    process.stop()
    log = process.log()
    # Django logs every 500 as "Internal Server Error": there must be none.
    assert "Internal Server Error" not in log, log[-3000:]


@pytest.fixture
def session(secret_key):
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {secret_key}"
        yield http


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "error": "The database is unavailable; retry shortly",
        "code": "database_unavailable",
    }
    assert response.headers["X-Request-ID"]


def test_a_request_whose_connection_dies_mid_flight_is_a_503_then_the_retry_works(
    server, session, environment
):
    token = token_create(environment=environment).waitpoint
    url = f"{server}/api/v1/waitpoints/tokens/{token.id}/complete"
    answers: list[requests.Response] = []

    # Hold the token's row lock, so the server's completion waits inside the database...
    with transaction.atomic():
        Waitpoint.objects.select_for_update().get(id=token.id)
        completer = threading.Thread(
            target=lambda: answers.append(session.post(url, json={"data": 1}, timeout=30))
        )
        completer.start()

        def waiting_backend():
            with connection.cursor() as cursor:
                # Inside a transaction PostgreSQL keeps showing its first activity snapshot.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                return [row[0] for row in cursor.fetchall()]

        # ...then kill that connection under it.
        for pid in wait_until(waiting_backend, what="the completion to wait on the lock"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        completer.join(30)

    assert_unavailable(answers[0])
    assert Waitpoint.objects.get(id=token.id).status == WaitpointStatus.WAITING

    # Every other connection goes too; the very next requests reconnect on their own.
    terminate_other_backends()
    for _ in range(4):  # reach both gunicorn workers' stale connections
        assert session.get(f"{server}/api/v1/waitpoints/tokens", timeout=10).status_code == 200
    retried = session.post(url, json={"data": 2}, timeout=10)
    assert (retried.status_code, retried.json()) == (200, {"success": True})
    stored = Waitpoint.objects.get(id=token.id)
    assert (stored.status, stored.output) == (WaitpointStatus.COMPLETED, 2)


def test_backends_terminated_again_and_again_under_load_lose_no_acknowledged_completion(
    server, secret_key, environment
):
    tokens = [token_create(environment=environment).waitpoint for _ in range(60)]
    stop = threading.Event()
    results: list[tuple[str, str, requests.Response | Exception]] = []
    lock = threading.Lock()

    def client(share: list[Waitpoint], index: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {secret_key}"
            for token in share:
                calls = [
                    ("complete", lambda t=token: http.post(
                        f"{server}/api/v1/waitpoints/tokens/{t.id}/complete",
                        json={"data": {"token": t.id}}, timeout=30)),
                    ("create", lambda: http.post(
                        f"{server}/api/v1/waitpoints/tokens",
                        json={"tags": [f"load-{index}"]}, timeout=30)),
                    ("list", lambda: http.get(
                        f"{server}/api/v1/waitpoints/tokens?filter[status]=WAITING", timeout=30)),
                ]  # fmt: skip
                for kind, call in calls:
                    try:
                        answer = call()
                    except requests.RequestException as exc:  # a dropped socket counts too
                        answer = exc
                    with lock:
                        results.append((kind, token.id, answer))
                time.sleep(0.01)

    shares = [tokens[n::6] for n in range(6)]
    clients = [threading.Thread(target=client, args=(share, n)) for n, share in enumerate(shares)]
    for thread in clients:
        thread.start()
    terminated = 0
    while any(thread.is_alive() for thread in clients):
        terminated += terminate_other_backends()
        time.sleep(0.15)
    for thread in clients:
        thread.join(60)
        assert not thread.is_alive()
    stop.set()

    statuses = {}
    for kind, token_id, answer in results:
        assert not isinstance(answer, Exception), (kind, answer)
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if answer.status_code == 503:
            assert_unavailable(answer)
        else:
            assert answer.status_code == 200, (kind, answer.status_code, answer.text[:500])
        if kind == "complete" and answer.status_code == 200:
            stored = Waitpoint.objects.get(id=token_id)
            assert (stored.status, stored.output) == ("COMPLETED", {"token": token_id})
        if kind == "create" and answer.status_code == 200:
            assert Waitpoint.objects.filter(id=answer.json()["id"]).exists()
    assert terminated > 0
    print(f"backends terminated: {terminated}; answers by status: {statuses}")

    # It recovers by itself: retrying what failed succeeds, and every token ends completed.
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {secret_key}"
        for token in tokens:
            answer = http.post(
                f"{server}/api/v1/waitpoints/tokens/{token.id}/complete",
                json={"data": {"token": token.id}},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text[:300]
    for token in Waitpoint.objects.filter(id__in=[t.id for t in tokens]):
        assert (token.status, token.output) == ("COMPLETED", {"token": token.id})
