"""Trigger.dev's official TypeScript SDK (pinned in package.json / package-lock.json) drives every
waitpoint verb against a real gunicorn serving this project: check_verbs.mjs.

Needs Node 20+ and npm. `npm ci` runs when node_modules is missing or installed from another
lockfile; npm's own cache (~/.npm) makes that quick and offline-capable after the first time,
also from a clean clone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.processes import start_gunicorn
from waitpoints.environments.services import api_key_create
from waitpoints.models import AuditEvent, CompletionVia, Waitpoint, WaitpointStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
STAMP = NODE_MODULES / ".waitpoints-lockfile-sha256"
INSTALL_SECONDS = 600
SCRIPT_SECONDS = 300

EXPECTED_CHECKS = [
    "create without options",
    "retrieve WAITING without options",
    "create with every option (timeout as a duration)",
    "idempotent create returns the same token, cached",
    "create with a timeout as a Date",
    "complete by object, retrieve an object output",
    "complete by id, retrieve a string output",
    "complete with null, retrieve a null output",
    "a second completion changes nothing",
    "retrieve TIMED_OUT with its WaitpointTimeoutError",
    "a plain POST to the callback URL completes",
    "complete with the public access token through auth.withAuth",
    "a browser's CORS preflight for complete allows every header the SDK sends",
    "list: auto-pagination over several pages, newest first",
    "list: every filter",
    "errors: 404 NotFoundError, 422 UnprocessableEntityError",
    "errors: 401 AuthenticationError",
]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: the Trigger.dev SDK test needs Node.js 20+ and npm "
            "(Debian: apt-get install nodejs npm)",
            pytrace=False,
        )
    return path


def _node_major(node: str) -> int:
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    return int(version.stdout.strip().lstrip("v").split(".")[0])


def _install_sdk(npm: str) -> None:
    """`npm ci` unless node_modules was installed from this very lockfile (one install at a
    time: other test runs may share the checkout)."""
    lock_hash = hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()
    lock_path = Path(tempfile.gettempdir()) / (
        "waitpoints-trigger-sdk-" + hashlib.sha256(str(HERE).encode()).hexdigest()[:16] + ".lock"
    )
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text() == lock_hash:
            return
        result = subprocess.run(
            [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
        )
        if result.returncode != 0:
            pytest.fail(
                f"npm ci failed in {HERE}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
                pytrace=False,
            )
        STAMP.write_text(lock_hash)


@pytest.fixture
def sdk_node() -> str:
    node, npm = _tool("node"), _tool("npm")
    if _node_major(node) < 20:
        pytest.fail("The Trigger.dev SDK test needs Node.js 20 or newer", pytrace=False)
    _install_sdk(npm)
    return node


def test_every_waitpoint_verb_of_the_official_sdk(sdk_node, environment, tmp_path):
    secret_key = api_key_create(environment=environment).secret
    server, base_url = start_gunicorn(tmp_path)
    try:
        result = subprocess.run(
            [sdk_node, str(HERE / "check_verbs.mjs")],
            cwd=HERE,
            env={
                **os.environ,
                "WAITPOINTS_URL": base_url,
                "WAITPOINTS_KEY": secret_key,
                "WAITPOINTS_ENVIRONMENT": environment.slug,
            },
            capture_output=True,
            text=True,
            timeout=SCRIPT_SECONDS,
        )
    finally:
        server.stop()
    output = f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}"
    assert result.returncode == 0, f"{output}\nserver log:\n{server.log()[-4000:]}"
    assert "Internal Server Error" not in server.log(), server.log()[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["checks"] == EXPECTED_CHECKS, output

    # What the SDK did is what the server stored, with who and how.
    ids = summary["ids"]
    by_pat = Waitpoint.objects.get(id=ids["publicAccessToken"])
    assert (by_pat.status, by_pat.result_output) == (WaitpointStatus.COMPLETED, {"from": "browser"})
    completion = AuditEvent.objects.get(waitpoint=by_pat, action=AuditEvent.Action.COMPLETED)
    assert (completion.via, completion.actor) == (CompletionVia.API, "public-access-token")
    callback = AuditEvent.objects.get(
        waitpoint_id=ids["callback"], action=AuditEvent.Action.COMPLETED
    )
    assert callback.via == CompletionVia.CALLBACK
    assert Waitpoint.objects.get(id=ids["timedOut"]).current_status == WaitpointStatus.TIMED_OUT
