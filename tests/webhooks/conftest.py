"""A real HTTP receiver on loopback, and the settings that let webhooks reach it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

WEBHOOKS = "/api/v1/webhooks"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next status of `answers` (then 200). With `hang_first`, the
    first request is held until `release()`: a delivery in flight."""

    answers: list[int] = field(default_factory=list)
    hang_first: bool = False
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?source=waitpoints"

    def release(self) -> None:
        self._released.set()

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests.append(Received(headers=headers, body=body))
            first = len(self.requests) == 1
            status = self.answers.pop(0) if self.answers else 200
        if first and self.hang_first:
            self._released.wait(timeout=120)
        return status


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender is gone (a killed worker)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_private(settings):
    """Loopback receivers are allowed (WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE=1)."""
    settings.WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def create_webhook(api, allow_private):
    def create(url: str, events=("waitpoint.completed",), client=None, **extra) -> dict:
        response = (client or api).post(
            WEBHOOKS, {"url": url, "events": list(events), **extra}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()

    return create
