"""`manage.py devserver` (`make run`) as a real process: it stops all its processes, and only them.

Each test starts devserver on SQLite and the filesystem broker in folders of its own, waits until
web, worker and beat all work (a demo run whose token times out completes only if beat sweeps and
the worker resumes the run), notes every process of devserver's tree, then checks that none of
them outlives devserver.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.embedded.support import (
    DEADLINE_SECONDS,
    ProcessState,
    embedded_environment,
    is_alive,
    process_tree,
)
from tests.processes import REPO_ROOT, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.worker]


@dataclass
class Devserver:
    process: subprocess.Popen
    base_url: str
    var_dir: Path
    log_path: Path
    noted: list[ProcessState] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text()

    def tree(self) -> list[ProcessState]:
        return process_tree(self.process.pid)

    def children(self) -> list[ProcessState]:
        return [state for state in self.tree() if state.parent_pid == self.process.pid]

    def worker(self) -> ProcessState | None:
        workers = [child for child in self.children() if " celery " in child.command]
        return workers[0] if workers else None

    def runserver(self) -> ProcessState:
        return next(child for child in self.children() if " runserver " in child.command)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        secret = (self.var_dir / "demo-api-key").read_text().strip()
        headers = {"Authorization": f"Bearer {secret}"}
        return requests.request(
            method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )


class PortTaken(Exception):
    """Another process bound the free port before runserver did."""


@pytest.fixture
def devserver(tmp_path) -> Iterator[Devserver]:
    for _ in range(3):
        server = start_devserver(tmp_path)
        try:
            wait_for_everything_working(server)
        except PortTaken:
            continue
        except BaseException:
            clean_up(server)
            raise
        break
    else:
        pytest.fail("other processes kept taking devserver's port")
    try:
        yield server
    finally:
        clean_up(server)


def start_devserver(tmp_path: Path) -> Devserver:
    port = free_port()
    log_path = tmp_path / f"devserver-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "devserver", "--addrport", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT,
            env=embedded_environment(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal running the suite is not for it
        )
    return Devserver(process, f"http://127.0.0.1:{port}", tmp_path / "var", log_path)


def clean_up(server: Devserver) -> None:
    """Kill whatever a failed test left behind."""
    leftovers = list(server.noted)
    if server.process.poll() is None:  # not yet reaped: its pid is still its own
        leftovers += server.tree()
        server.process.kill()
        server.process.wait(timeout=DEADLINE_SECONDS)
    for state in leftovers:
        if is_alive(state):
            os.kill(state.pid, signal.SIGKILL)


def wait_for_everything_working(server: Devserver) -> None:
    def answering() -> bool:
        if server.process.poll() is not None:
            if "That port is already in use" in server.log():
                raise PortTaken
            pytest.fail(f"devserver exited at start:\n{server.log()}")
        try:
            requests.get(f"{server.base_url}/dashboard/", allow_redirects=False, timeout=30)
        except requests.RequestException:
            return False
        return True

    wait_until(answering, timeout=DEADLINE_SECONDS, what="devserver to answer HTTP")
    run_demo_task_to_completion(server)


def run_demo_task_to_completion(server: Devserver) -> None:
    """Trigger the moderation demo with a 1 s token: it completes (timed out) only once the
    worker has run it, beat has swept the token, and the worker has resumed it."""
    answer = server.api(
        "POST", "/tasks/moderation/trigger", json={"payload": {"postId": 1, "timeout": "1s"}}
    )
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["id"]

    def completed() -> bool:
        if server.process.poll() is not None:
            pytest.fail(f"devserver exited:\n{server.log()}")
        run = server.api("GET", f"/runs/{run_id}").json()
        if run["status"] in ("FAILED", "CANCELED"):
            pytest.fail(f"run {run}\n{server.log()}")
        return run["status"] == "COMPLETED"

    wait_until(
        completed,
        timeout=DEADLINE_SECONDS,
        what=lambda: f"run {run_id} to complete (worker and beat up):\n{server.log()}",
    )


def note_processes(server: Devserver) -> list[ProcessState]:
    """devserver, runserver, the worker and its beat process."""
    tree = server.tree()
    worker = server.worker()
    assert worker is not None, tree
    assert any(state.parent_pid == worker.pid for state in tree), f"no beat process: {tree}"
    assert server.runserver().pid in {state.pid for state in tree}
    server.noted += tree
    return tree


def assert_all_exited(processes: list[ProcessState], server: Devserver) -> None:
    left = [state for state in processes if is_alive(state)]
    assert not left, f"left running after devserver exited: {left}\n{server.log()}"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_stops_every_process_before_devserver_exits(devserver, stop_signal):
    processes = note_processes(devserver)
    devserver.process.send_signal(stop_signal)
    status = devserver.process.wait(timeout=DEADLINE_SECONDS)
    assert_all_exited(processes, devserver)
    assert status == 0, devserver.log()


def test_a_worker_that_dies_is_restarted_without_a_second_beat(devserver):
    processes = note_processes(devserver)
    crashed = devserver.worker()
    (beat,) = [state for state in processes if state.parent_pid == crashed.pid]
    os.kill(crashed.pid, signal.SIGKILL)

    def restarted() -> ProcessState | None:
        worker = devserver.worker()
        return worker if worker and worker.pid != crashed.pid else None

    replacement = wait_until(restarted, timeout=DEADLINE_SECONDS, what="a new worker")
    assert not is_alive(beat), "the crashed worker's beat outlived it"
    assert "The Celery worker exited with status -9; restarting it" in devserver.log()
    run_demo_task_to_completion(devserver)
    assert devserver.worker().pid == replacement.pid
    processes += note_processes(devserver)
    devserver.process.send_signal(signal.SIGTERM)
    status = devserver.process.wait(timeout=DEADLINE_SECONDS)
    assert_all_exited(processes, devserver)
    assert status == 0, devserver.log()


def test_runserver_dying_stops_everything_and_fails(devserver):
    processes = note_processes(devserver)
    os.kill(devserver.runserver().pid, signal.SIGKILL)
    status = devserver.process.wait(timeout=DEADLINE_SECONDS)
    assert_all_exited(processes, devserver)
    assert status == 1, devserver.log()
    assert "runserver exited with status -9" in devserver.log()
