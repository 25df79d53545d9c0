"""The filesystem broker of the embedded default (config/filesystem_broker.py) against kombu's.

kombu's transport creates a message file, then locks and writes it. A consumer listing the folder
in between takes the empty file and raises JSONDecodeError, which stops a Celery worker for good
("Unrecoverable error", kombu issue #1551). These tests hold a real writer in that window, with
no mock: kombu serializes the payload only once the file is open, and a payload value's `__json__`
hook (which kombu's encoder calls) waits until the test lets it go.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from config import filesystem_broker
from tests.embedded.support import DEADLINE_SECONDS, embedded_environment
from tests.processes import REPO_ROOT, wait_until

STOCK = "filesystem"
OURS = "config.filesystem_broker:Transport"
QUEUE = "work"


@pytest.fixture
def broker_folder(tmp_path) -> Path:
    folder = tmp_path / "broker"
    (folder / "processed").mkdir(parents=True)
    return folder


@contextmanager
def channel_of(transport: str, folder: Path) -> Iterator:
    """A channel of `transport` on `folder`, laid out as config/settings.py lays out var/broker."""
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    with Connection("filesystem://", transport=transport, transport_options=options) as connection:
        yield connection.default_channel


class HeldValue:
    """A payload value that serializes only once released: it holds the writer mid-put."""

    def __init__(self, text: str):
        self.text = text
        self.reached = threading.Event()
        self.released = threading.Event()

    def __json__(self) -> str:
        self.reached.set()
        self.released.wait(DEADLINE_SECONDS)
        return self.text


@contextmanager
def writer_held_mid_put(transport: str, folder: Path, payload: dict, value: HeldValue) -> Iterator:
    """A thread putting `payload` (which holds `value`) with `transport`, held inside the put."""
    errors: list[BaseException] = []

    def put() -> None:
        try:
            with channel_of(transport, folder) as channel:
                channel._put(QUEUE, payload)
        except BaseException as error:
            errors.append(error)

    writer = threading.Thread(target=put)
    writer.start()
    try:
        assert value.reached.wait(DEADLINE_SECONDS), "the writer never reached the payload"
        yield
    finally:
        value.released.set()
        writer.join(DEADLINE_SECONDS)
    assert not writer.is_alive() and not errors, errors


def message_files(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(f".{QUEUE}.msg"))


def get_within_deadline(channel) -> dict:
    return wait_until(lambda: try_get(channel), timeout=DEADLINE_SECONDS, what="a message")


def try_get(channel) -> dict | None:
    try:
        return channel._get(QUEUE)
    except Empty:
        return None


def test_kombu_consumer_takes_a_message_before_it_is_written(broker_folder):
    """The race itself, with kombu's own transport on both sides. Should this fail, kombu has
    fixed issue #1551, and config/filesystem_broker.py may be no longer needed."""
    value = HeldValue("the whole message")
    with channel_of(STOCK, broker_folder) as consumer:
        with writer_held_mid_put(STOCK, broker_folder, {"body": value}, value):
            assert len(message_files(broker_folder)) == 1  # created, still empty
            with pytest.raises(json.JSONDecodeError):
                consumer._get(QUEUE)
        # The writer then wrote into the file the consumer had already taken and deleted.
        with pytest.raises(Empty):
            consumer._get(QUEUE)


def test_consumer_never_sees_a_message_being_written(broker_folder):
    value = HeldValue("the whole message")
    with channel_of(OURS, broker_folder) as consumer:
        with writer_held_mid_put(OURS, broker_folder, {"body": value}, value):
            # Held where kombu's writer was held above: its file created, empty.
            writing = [name for name in os.listdir(broker_folder) if name.endswith(".writing")]
            assert len(writing) == 1
            assert (broker_folder / writing[0]).stat().st_size == 0
            with pytest.raises(Empty):
                consumer._get(QUEUE)
        assert consumer._get(QUEUE) == {"body": "the whole message"}
        assert os.listdir(broker_folder) == ["processed"]


def test_consumer_waits_for_a_message_kombus_writer_is_still_writing(broker_folder):
    """A process still on kombu's transport (started before the setting) writes the same folder."""
    value = HeldValue("the whole message")
    with channel_of(OURS, broker_folder) as consumer:
        with writer_held_mid_put(STOCK, broker_folder, {"body": value}, value):
            with pytest.raises(Empty):
                consumer._get(QUEUE)
            assert len(message_files(broker_folder)) == 1  # handed back, not lost
        assert consumer._get(QUEUE) == {"body": "the whole message"}


def test_consumer_hands_back_a_message_just_created_by_kombus_writer(broker_folder):
    # kombu's writer creates the file before it locks it: this is the file in that instant.
    just_created = broker_folder / filesystem_broker.message_filename(QUEUE)
    just_created.touch()
    with channel_of(OURS, broker_folder) as consumer:
        with pytest.raises(Empty):
            consumer._get(QUEUE)
        just_created.write_text(json.dumps({"body": "written after all"}))
        assert consumer._get(QUEUE) == {"body": "written after all"}


def test_consumer_sets_aside_what_it_cannot_read_and_goes_on(broker_folder, caplog):
    abandoned = broker_folder / filesystem_broker.message_filename(QUEUE)
    abandoned.touch()
    long_ago = time.time() - filesystem_broker.ABANDONED_AFTER_SECONDS - 60
    os.utime(abandoned, (long_ago, long_ago))
    garbled = broker_folder / filesystem_broker.message_filename(QUEUE)
    garbled.write_text('{"body": "cut sh')
    with channel_of(OURS, broker_folder) as channel:
        channel._put(QUEUE, {"body": "fine"})
        with caplog.at_level(logging.ERROR, logger="config.filesystem_broker"):
            assert channel._get(QUEUE) == {"body": "fine"}
            with pytest.raises(Empty):
                channel._get(QUEUE)
    assert sorted(os.listdir(broker_folder)) == sorted(
        ["processed", f"{abandoned.name}.unreadable", f"{garbled.name}.unreadable"]
    )
    assert len([r for r in caplog.records if "Set aside message file" in r.message]) == 2


def test_messages_keep_kombus_names_and_order(broker_folder):
    with channel_of(OURS, broker_folder) as channel:
        for number in range(5):
            channel._put(QUEUE, {"number": number})
            # kombu names files by the millisecond: the next message gets a later one.
            millisecond = int(round(time.monotonic() * 1000))
            while int(round(time.monotonic() * 1000)) == millisecond:
                pass
        kombus_name = re.compile(rf"^\d+_[0-9a-f-]{{36}}\.{QUEUE}\.msg$")
        assert all(kombus_name.match(name) for name in message_files(broker_folder))
        assert [channel._get(QUEUE)["number"] for _ in range(5)] == list(range(5))


def test_concurrent_writers_and_consumers_deliver_every_message_once_and_whole(broker_folder):
    writers, consumers, per_writer = 4, 3, 60
    # Large enough for a write to take a while, so a file is often caught being written.
    padding = "x" * 512 * 1024
    received: list[str] = []
    errors: list[BaseException] = []
    all_written = threading.Event()

    def write(writer: int) -> None:
        try:
            with channel_of(OURS, broker_folder) as channel:
                for number in range(per_writer):
                    channel._put(QUEUE, {"id": f"{writer}-{number}", "padding": padding})
        except BaseException as error:
            errors.append(error)

    def consume() -> None:
        try:
            with channel_of(OURS, broker_folder) as channel:
                while True:
                    try:
                        message = channel._get(QUEUE)
                    except Empty:
                        if all_written.is_set() and not message_files(broker_folder):
                            return
                        continue
                    assert message["padding"] == padding
                    received.append(message["id"])
        except BaseException as error:
            errors.append(error)

    consumer_threads = [threading.Thread(target=consume) for _ in range(consumers)]
    writer_threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in consumer_threads + writer_threads:
        thread.start()
    for thread in writer_threads:
        thread.join(DEADLINE_SECONDS)
    all_written.set()
    for thread in consumer_threads:
        thread.join(DEADLINE_SECONDS)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in consumer_threads + writer_threads)
    expected = [f"{writer}-{number}" for writer in range(writers) for number in range(per_writer)]
    assert sorted(received) == sorted(expected)


def test_concurrent_bindings_all_land_in_a_readable_exchange_table(broker_folder):
    binders, queues_each = 6, 25
    errors: list[BaseException] = []
    all_bound = threading.Event()

    def bind(binder: int) -> None:
        try:
            with channel_of(OURS, broker_folder) as channel:
                for number in range(queues_each):
                    channel._queue_bind("events", "", "", f"queue-{binder}-{number}")
        except BaseException as error:
            errors.append(error)

    def read_tables() -> None:
        try:
            with channel_of(OURS, broker_folder) as channel:
                while not all_bound.is_set():
                    channel.get_table("events")
        except BaseException as error:
            errors.append(error)

    reader = threading.Thread(target=read_tables)
    reader.start()
    threads = [threading.Thread(target=bind, args=(n,)) for n in range(binders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    all_bound.set()
    reader.join(DEADLINE_SECONDS)
    assert not errors, errors
    with channel_of(OURS, broker_folder) as channel:
        bound = {binding.queue for binding in channel.get_table("events")}
    assert bound == {f"queue-{b}-{n}" for b in range(binders) for n in range(queues_each)}


@pytest.mark.slow
@pytest.mark.worker
def test_workers_survive_concurrent_publishers(tmp_path):
    """Real `celery worker` processes of the project on the filesystem broker (solo pool, as
    `make run` starts them), fed by several processes publishing from several threads each, take
    every message once and keep running."""
    environment = embedded_environment(tmp_path)
    results = tmp_path / "results"
    results.mkdir()
    workers = [start_worker(tmp_path, environment, number) for number in range(3)]
    try:
        publishers, threads, per_thread = 4, 4, 40
        publishing = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.embedded.publish_messages", str(results),
                 f"publisher{number}", str(threads), str(per_thread)],
                cwd=REPO_ROOT,
                env=environment,
            )
            for number in range(publishers)
        ]  # fmt: skip
        for publisher in publishing:
            assert publisher.wait(timeout=DEADLINE_SECONDS) == 0
        expected = publishers * threads * per_thread

        def recorded() -> int:
            return len(os.listdir(results))

        def all_recorded() -> bool:
            for worker, log in workers:
                if worker.poll() is not None:
                    pytest.fail(f"a worker exited ({worker.returncode}):\n{log.read_text()}")
            return recorded() >= expected

        wait_until(
            all_recorded,
            timeout=3 * DEADLINE_SECONDS,
            what=lambda: f"{expected} messages to be processed ({recorded()} so far)",
        )
        assert sorted(os.listdir(results)) == sorted(
            f"publisher{p}-{t}-{n}"
            for p in range(publishers)
            for t in range(threads)
            for n in range(per_thread)
        )
        for worker, log in workers:
            assert worker.poll() is None
            assert "Unrecoverable error" not in log.read_text()
    finally:
        for worker, _ in workers:
            stop(worker)


def start_worker(tmp_path: Path, environment: dict, number: int) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"worker-{number}.log"
    with open(log, "w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "--loglevel=INFO", "--include=tests.embedded.broker_tasks",
             f"--hostname=embedded-{os.getpid()}-{number}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def ready() -> bool:
        if worker.poll() is not None:
            pytest.fail(f"the worker exited at start:\n{log.read_text()}")
        return " ready." in log.read_text()

    try:
        wait_until(ready, timeout=DEADLINE_SECONDS, what="the worker to start")
    except BaseException:
        stop(worker)
        raise
    return worker, log


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=DEADLINE_SECONDS)
