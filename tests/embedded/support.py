"""What the tests of the embedded default share: an environment of its own, a process's life."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.processes import REPO_ROOT

# Generous: the machine running the suite may be shared and slow.
DEADLINE_SECONDS = 120


def embedded_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of `make run`, in folders of this test: SQLite and the filesystem broker.

    Nothing the suite was started with (its PostgreSQL, its Redis, a queue) reaches the process."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CELERY_", "WAITPOINTS_", "DATABASE_", "DJANGO_"))
    }
    return {
        **inherited,
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "WAITPOINTS_VAR_DIR": str(tmp_path / "var"),
    }


@dataclass(frozen=True)
class ProcessState:
    pid: int
    parent_pid: int
    state: str  # "R", "S", … "Z" for a zombie: exited, not yet reaped
    start_time: int  # clock ticks since boot: with the pid, names one process for good
    command: str


def process_state(pid: int) -> ProcessState | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in parentheses may hold spaces; the fields after it don't.
    fields = stat.rpartition(")")[2].split()
    return ProcessState(pid, int(fields[1]), fields[0], int(fields[19]), command)


def all_processes() -> list[ProcessState]:
    states = (process_state(int(entry)) for entry in os.listdir("/proc") if entry.isdigit())
    return [state for state in states if state is not None]


def process_tree(root_pid: int) -> list[ProcessState]:
    """The process `root_pid` and all its descendants, living or zombie."""
    processes = all_processes()
    tree = [state for state in processes if state.pid == root_pid]
    parents = {root_pid}
    while True:
        children = [p for p in processes if p.parent_pid in parents and p not in tree]
        if not children:
            return tree
        tree += children
        parents = {child.pid for child in children}


def is_alive(process: ProcessState) -> bool:
    """Whether that very process still runs (a zombie has exited; a reused pid is another)."""
    now = process_state(process.pid)
    return now is not None and now.start_time == process.start_time and now.state != "Z"
