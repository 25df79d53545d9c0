"""Fixtures for the HTTP client tests: a live server (real HTTP, PostgreSQL) and clients of it."""

import pytest
from django.db import connection

from waitpoints.client import Client


@pytest.fixture
def server_url(live_server, settings, monkeypatch):
    settings.WAITPOINTS_PUBLIC_URL = live_server.url
    # The live server's request threads would keep their connections open past the test
    # (persistent connections), and block dropping the test database at the end.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    return live_server.url


@pytest.fixture
def client(server_url, secret_key):
    with Client(server_url, secret_key) as client:
        yield client


@pytest.fixture
def other_client(server_url, other_secret_key):
    with Client(server_url, other_secret_key) as client:
        yield client
