"""OpenAPI 3 schema and its docs page (served from the sidecar package: no CDN)."""

import os
import re
import subprocess
import sys

import pytest
import yaml  # noqa: F401  (drf-spectacular depends on PyYAML)
from django.conf import settings
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_lists_every_endpoint_with_trigger_dev_names():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/v1/waitpoints/tokens",
        "/api/v1/waitpoints/tokens/{token_id}",
        "/api/v1/waitpoints/tokens/{token_id}/complete",
        "/api/v1/waitpoints/tokens/{token_id}/callback/{callback_hash}",
    }
    list_params = {p["name"] for p in paths["/api/v1/waitpoints/tokens"]["get"]["parameters"]}
    assert {"filter[status]", "filter[tags]", "page[size]", "page[after]"} <= list_params
    components = schema["components"]["schemas"]
    create_fields = set(components["CreateTokenRequestRequest"]["properties"])
    assert {"idempotencyKey", "idempotencyKeyTTL", "timeout", "tags"} <= create_fields


def test_schema_yaml_is_served_too():
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").read_text().startswith("openapi: 3")


def test_docs_page_renders_from_local_static_files():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    # Every script and stylesheet is served by us: no absolute or protocol-relative URL.
    # (Matching "cdn" in the page text would also hit the random CSRF token.)
    asset_urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assert asset_urls
    assert [url for url in asset_urls if url.startswith(("http:", "https:", "//"))] == []
    assert "/api/schema/" in html


FIRST_SCHEMA_REQUESTS_AT_ONCE = """
import threading

import django

django.setup()
from django.test import Client

barrier = threading.Barrier(8)
codes = []


def fetch():
    barrier.wait()
    codes.append(Client(raise_request_exception=False).get("/api/schema/").status_code)


threads = [threading.Thread(target=fetch) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(codes))
"""


def test_first_schema_requests_served_at_once_all_succeed():
    # A fresh interpreter: the race (drf-spectacular loading its extensions lazily) only exists
    # before the first schema generation in a process, as under a threaded production server.
    result = subprocess.run(
        [sys.executable, "-c", FIRST_SCHEMA_REQUESTS_AT_ONCE],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str([200] * 8), result.stderr[-3000:]
