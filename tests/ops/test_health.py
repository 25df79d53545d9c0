"""`/healthz` and `/readyz`: no auth, no session, JSON; readiness fails (503, naming the failed
dependency) while the database or the broker is unreachable, and recovers by itself."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import requests
from django.test import override_settings

from tests.processes import free_port, start_gunicorn, wait_until

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "ok"}},
    }


def test_readyz_names_an_unreachable_broker_and_recovers(client):
    closed = free_port()
    for url in (f"redis://127.0.0.1:{closed}/0", f"amqp://guest:guest@127.0.0.1:{closed}//"):
        with override_settings(CELERY_BROKER_URL=url):
            response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == {"status": "ok"}
        assert body["checks"]["broker"]["status"] == "failed"
        assert str(closed) not in response.content.decode()  # a public probe leaks no address
    assert client.get("/readyz").status_code == 200


def test_readyz_checks_the_filesystem_broker(client, tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    fs = {
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_TRANSPORT": "config.filesystem_broker:Transport",
    }
    with override_settings(**fs, CELERY_BROKER_TRANSPORT_OPTIONS=options):
        assert client.get("/readyz").status_code == 200
    missing = {"data_folder_in": str(tmp_path / "gone"), "data_folder_out": str(tmp_path / "gone")}
    with override_settings(**fs, CELERY_BROKER_TRANSPORT_OPTIONS=missing):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "failed"


class SwitchableProxy:
    """A TCP proxy to PostgreSQL that can be cut (existing and new connections refused)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.close()

    def cut(self) -> None:
        self.up = False
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        self.sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.slow
@pytest.mark.postgres_only("a TCP proxy in front of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_readyz_under_gunicorn_follows_a_database_outage(tmp_path):
    from django.db import connection

    proxy = SwitchableProxy(int(connection.settings_dict["PORT"] or 5432))
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@127.0.0.1:{proxy.port}/{db['NAME']}"
    server, base_url = start_gunicorn(
        tmp_path, env={"DATABASE_URL": url, "CONN_MAX_AGE": "0"}, workers=1
    )
    try:

        def status() -> tuple[int, dict]:
            response = requests.get(f"{base_url}/readyz", timeout=10)
            return response.status_code, response.json()

        wait_until(lambda: status()[0] == 200, what="readyz 200 with the database up")
        proxy.cut()
        code, body = wait_until(
            lambda: (answer := status())[0] == 503 and answer, what="readyz 503 while cut"
        )
        assert body["checks"]["database"]["status"] == "failed"
        assert body["checks"]["broker"] == {"status": "ok"}
        assert requests.get(f"{base_url}/healthz", timeout=10).status_code == 200
        proxy.up = True
        wait_until(lambda: status()[0] == 200, what="readyz 200 again after the outage")
    finally:
        server.stop()
        proxy.close()
    log = server.log()
    assert "/readyz" not in log, log[-2000:]  # probes stay out of the log
