"""Issue 13, item 6: LOG_FORMAT=json gives one JSON object per line, with the request's ids."""

import json
import logging

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from config.json_logs import JsonFormatter, log_context
from tests.helpers import TOKENS

pytestmark = pytest.mark.django_db


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def access_lines():
    handler = _Capture()
    logger = logging.getLogger("waitpoints.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)


def test_the_formatter_writes_one_json_object_per_line_with_the_context():
    token = log_context.set({"request_id": "r1", "run_id": "run_x"})
    try:
        record = logging.makeLogRecord({"msg": "line\nbreak %s", "args": (1,), "levelname": "INFO"})
        line = JsonFormatter().format(record)
    finally:
        log_context.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "line\nbreak 1"
    assert (entry["request_id"], entry["run_id"]) == ("r1", "run_x")


def test_each_api_request_logs_its_ids_via_and_duration(api, create_token, access_lines):
    token = create_token()
    middleware = [
        "waitpoints.middleware.RequestIdMiddleware",
        "config.json_logs.RequestLogMiddleware",
    ]
    from django.conf import settings

    fresh = APIClient()  # a client loads its middleware once
    fresh.credentials(**api._credentials)
    with override_settings(MIDDLEWARE=[*middleware, *settings.MIDDLEWARE[1:]]):
        fresh.post(f"{TOKENS}/{token['id']}/complete", {}, format="json", HTTP_X_REQUEST_ID="req-7")
    entries = [json.loads(line) for line in access_lines]
    entry = next(e for e in entries if e.get("token_id") == token["id"])
    assert entry["request_id"] == "req-7"
    assert entry["environment"]
    assert entry["via"] == "api" and entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)
